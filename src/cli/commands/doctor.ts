import type { Command } from 'commander';
import { resolveConfig } from '../../core/config.ts';
import { hostChecks } from '../../doctor.ts';
import { defaultModules } from '../../modules.ts';
import type { CliEnv } from '../env.ts';

export function registerDoctor(program: Command, env: CliEnv): void {
  program.command('doctor').description('what this machine can do and which driver each service uses').action(async () => {
    const config = resolveConfig({ home: program.opts().home });
    const checks = await hostChecks(config.home);
    const services: Record<string, string>[] = [];
    for (const m of await defaultModules(config)) {
      for (const [what, choice] of Object.entries(m.describe?.() ?? {})) services.push({ service: m.name, what, choice });
    }
    if (env.format() === 'table') {
      env.out(checks.map((c) => ({ check: c.name, status: c.ok ? 'ok' : 'missing', detail: c.detail })), ['check', 'status', 'detail']);
      process.stdout.write('\n');
      env.out(services, ['service', 'what', 'choice']);
    } else {
      env.out({ checks, services });
    }
  });
}
