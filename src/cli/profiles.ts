import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../core/files.ts';

/**
 * CLI profiles, like aws/kubectl contexts: `$YUN_HOME/config` names the
 * endpoint and project of each profile; `$YUN_HOME/credentials` (0600)
 * holds the tokens.
 */
export interface Profile { endpoint: string; project?: string; s3Endpoint?: string }
export interface ProfileFile { current?: string; profiles: Record<string, Profile> }
export type CredentialFile = Record<string, { token?: string; user?: string; accessKeyId?: string; secretAccessKey?: string }>;

async function readYaml<T>(path: string, fallback: T): Promise<T> {
  try {
    return (parse(await readFile(path, 'utf8')) as T) ?? fallback;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw e;
  }
}

export class Profiles {
  constructor(readonly home: string) {}
  get configPath() { return join(this.home, 'config'); }
  get credentialsPath() { return join(this.home, 'credentials'); }

  readConfig(): Promise<ProfileFile> { return readYaml(this.configPath, { profiles: {} }); }
  readCredentials(): Promise<CredentialFile> { return readYaml(this.credentialsPath, {}); }

  async save(name: string, profile: Profile, creds: CredentialFile[string], makeCurrent = true): Promise<void> {
    const cfg = await this.readConfig();
    cfg.profiles ??= {};
    cfg.profiles[name] = profile;
    if (makeCurrent || !cfg.current) cfg.current = name;
    await writeFileAtomic(this.configPath, stringify(cfg), 0o600);
    const c = await this.readCredentials();
    c[name] = { ...(c[name] ?? {}), ...creds };
    await writeFileAtomic(this.credentialsPath, stringify(c), 0o600);
  }

  async forget(name: string): Promise<void> {
    const c = await this.readCredentials();
    delete c[name];
    await writeFileAtomic(this.credentialsPath, stringify(c), 0o600);
  }

  async resolve(name?: string): Promise<{ name: string; profile?: Profile; creds: CredentialFile[string] }> {
    const cfg = await this.readConfig();
    const n = name ?? process.env.YUN_PROFILE ?? cfg.current ?? 'default';
    return { name: n, profile: cfg.profiles?.[n], creds: (await this.readCredentials())[n] ?? {} };
  }
}
