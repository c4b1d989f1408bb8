import { join } from 'node:path';
import type { Command } from 'commander';
import { startCloud } from '../../cloud.ts';
import { resolveConfig } from '../../core/config.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { defaultModules } from '../../modules.ts';
import type { CliEnv } from '../env.ts';

export function registerUp(program: Command, env: CliEnv): void {
  program.command('up').description('start the cloud in the foreground on embedded defaults')
    .option('--api-port <port>').option('--s3-port <port>').option('--router-port <port>')
    .option('--store <url>', 'sqlite:PATH or postgres://… (default sqlite under the home)')
    .option('--host <address>', 'address to listen on', undefined)
    .option('--region <name>').option('--zone <name>').option('--log-level <level>')
    .action(async (o: { apiPort?: string; s3Port?: string; routerPort?: string; store?: string; host?: string; region?: string; zone?: string; logLevel?: string }) => {
      const config = resolveConfig({ ...o, home: program.opts().home });
      const cloud = await startCloud(config, { modules: await defaultModules(config) });
      const passwordFile = join(config.home, 'admin-password');
      const profiles = env.profiles();
      if (cloud.bootstrap.created) {
        await writeFileAtomic(passwordFile, `${cloud.bootstrap.password}\n`, 0o600);
        const t = await cloud.ctx.identity.login(cloud.bootstrap.user, cloud.bootstrap.password!, '127.0.0.1');
        const api = await cloud.ctx.identity.createApiToken(t.user.id, { name: 'cli' });
        await profiles.save('default', { endpoint: cloud.apiUrl, project: 'default' }, { token: api.token, user: cloud.bootstrap.user }, true);
      }
      const lines = [
        `yun is up — region ${config.region}, state ${config.store.replace(/\/\/[^@/]*@/, '//***@')}`,
        `  console + API   ${cloud.apiUrl}/   (OpenAPI: ${cloud.apiUrl}/v1/openapi.json)`,
        `  S3 endpoint     http://${config.host}:${config.s3Port}`,
        `  app router      http://${config.host}:${config.routerPort}`,
        `  log in as       ${cloud.bootstrap.user}  (password in ${passwordFile})`,
        `  CLI profile     ${profiles.configPath} (token in ${profiles.credentialsPath})`,
        ...cloud.modules.flatMap((m) => Object.entries(m.describe?.() ?? {}).map(([k, v]) => `  ${(k.startsWith(m.name) ? k : `${m.name} ${k}`).padEnd(15)} ${v}`)),
        'Press Ctrl-C to stop.',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        const onSignal = (sig: string) => {
          process.stdout.write(`\n${sig}: draining and stopping…\n`);
          void cloud.stop().then(resolve, (e) => { process.stderr.write(`stop failed: ${(e as Error).message}\n`); process.exitCode = 1; resolve(); });
        };
        process.once('SIGINT', () => onSignal('SIGINT'));
        process.once('SIGTERM', () => onSignal('SIGTERM'));
      });
    });
}
