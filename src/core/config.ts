import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Everything `yun up` needs, resolved once from flags, env and defaults. */
export interface CloudConfig {
  home: string;
  /** `sqlite:/path`, `sqlite::memory:` or `postgres://…`. */
  store: string;
  host: string;
  apiPort: number;
  s3Port: number;
  routerPort: number;
  region: string;
  zone: string;
  s3BaseDomain: string;
  /** Name of the first admin user created on first start. */
  adminUser: string;
  /** Login token lifetime. */
  tokenTtlSeconds: number;
  /** Max JSON body size for the REST API. */
  bodyLimitBytes: number;
  logLevel: string;
}

export interface ConfigInput {
  home?: string;
  store?: string;
  host?: string;
  apiPort?: number | string;
  s3Port?: number | string;
  routerPort?: number | string;
  region?: string;
  zone?: string;
  logLevel?: string;
}

function port(v: number | string | undefined, fallback: number, name: string): number {
  if (v === undefined || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: not a port number: ${v}`);
  return n;
}

/** Flags win over env vars, env vars over defaults. */
export function resolveConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): CloudConfig {
  const home = resolve(flags.home ?? env.YUN_HOME ?? join(homedir(), '.yun'));
  return {
    home,
    store: flags.store ?? env.YUN_STORE ?? `sqlite:${join(home, 'state.db')}`,
    host: flags.host ?? env.YUN_HOST ?? '127.0.0.1',
    apiPort: port(flags.apiPort ?? env.YUN_API_PORT, 8400, 'api-port'),
    s3Port: port(flags.s3Port ?? env.YUN_S3_PORT, 8401, 's3-port'),
    routerPort: port(flags.routerPort ?? env.YUN_ROUTER_PORT, 8480, 'router-port'),
    region: flags.region ?? env.YUN_REGION ?? 'us-east-1',
    zone: flags.zone ?? env.YUN_ZONE ?? 'us-east-1a',
    s3BaseDomain: env.YUN_S3_DOMAIN ?? 's3.localhost',
    adminUser: env.YUN_ADMIN_USER ?? 'admin',
    tokenTtlSeconds: Number(env.YUN_TOKEN_TTL ?? 12 * 3600),
    bodyLimitBytes: 1024 * 1024,
    logLevel: flags.logLevel ?? env.YUN_LOG_LEVEL ?? 'info',
  };
}
