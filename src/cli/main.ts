import { Command, Option } from 'commander';
import { YunApiError } from '../sdk/client.ts';
import { registerIdentityCommands } from './commands/identity.ts';
import { registerObjectCommands } from './commands/objects.ts';
import { registerUp } from './commands/up.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerComputeCommands } from './commands/compute.ts';
import { registerNetworkCommands } from './commands/network.ts';
import { registerVolumeCommands } from './commands/volume.ts';
import { registerAutoscaleCommands } from './commands/autoscale.ts';
import { registerMetricsCommands } from './commands/metrics.ts';
import { registerAlarmCommands } from './commands/alarm.ts';
import { registerGroupCommands } from './commands/group.ts';
import { registerRecommendCommands } from './commands/recommend.ts';
import { registerLoadtestCommands } from './commands/loadtest.ts';
import { registerCostCommands } from './commands/cost.ts';
import { type CliEnv, makeEnv } from './env.ts';
import { registerAppCommands } from './commands/apps.ts';

/** Every command module registers itself here: one line per module. */
const MODULES: ((program: Command, env: CliEnv) => void)[] = [registerUp, registerDoctor, registerIdentityCommands, registerObjectCommands, registerNetworkCommands, registerComputeCommands, registerVolumeCommands, registerCostCommands, registerMetricsCommands, registerAlarmCommands, registerAutoscaleCommands, registerGroupCommands, registerRecommendCommands, registerLoadtestCommands, registerAppCommands];

export function buildProgram(): Command {
  const program = new Command('yun')
    .description('yun (云) — a self-hosted cloud')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--profile <name>', 'CLI profile from $YUN_HOME/config')
    .option('--home <dir>', 'yun home (default $YUN_HOME or ~/.yun)')
    .option('--endpoint <url>', 'API endpoint (overrides the profile)')
    .option('-p, --project <name>', 'project to act in (overrides the profile)')
    .showHelpAfterError();
  const env = makeEnv(program);
  for (const m of MODULES) m(program, env);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code?.startsWith('commander.')) {
      process.exitCode = err.exitCode ?? 1;
      return;
    }
    if (e instanceof YunApiError) {
      process.stderr.write(`error: ${e.message}${e.field ? ` (field ${e.field})` : ''} [${e.code}]\n`);
    } else {
      process.stderr.write(`error: ${err.message}\n`);
    }
    process.exitCode = 1;
  }
}
