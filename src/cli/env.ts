import type { Command } from 'commander';
import { resolveConfig } from '../core/config.ts';
import { YunClient } from '../sdk/client.ts';
import { type OutputFormat, print } from './output.ts';
import { Profiles } from './profiles.ts';

/** What every command gets: the client for the chosen profile and the output format. */
export interface CliEnv {
  profiles(): Profiles;
  client(): Promise<YunClient>;
  out(value: unknown, columns?: string[]): void;
  format(): OutputFormat;
  profileName(): Promise<string>;
}

export function makeEnv(program: Command): CliEnv {
  const opts = () => program.opts<{ output: OutputFormat; profile?: string; home?: string; endpoint?: string; project?: string }>();
  const profiles = () => new Profiles(resolveConfig({ home: opts().home }).home);
  return {
    profiles,
    format: () => opts().output,
    profileName: async () => (await profiles().resolve(opts().profile)).name,
    out: (v, cols) => print(v, opts().output, cols),
    client: async () => {
      const o = opts();
      const p = await profiles().resolve(o.profile);
      const endpoint = o.endpoint ?? process.env.YUN_ENDPOINT ?? p.profile?.endpoint;
      if (!endpoint) throw new Error(`no profile '${p.name}': run 'yun up' or 'yun login --endpoint URL --user U --password P'`);
      return new YunClient({ endpoint, token: process.env.YUN_TOKEN ?? p.creds.token, project: o.project ?? process.env.YUN_PROJECT ?? p.profile?.project });
    },
  };
}
