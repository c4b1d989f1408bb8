/**
 * PostgreSQL for tests. `withPostgres()` returns an admin URL (database
 * `postgres`): $YUN_TEST_POSTGRES_URL if set, else 127.0.0.1:5432 if it
 * answers as user postgres without a password, else a throwaway cluster made
 * with Debian's initdb/pg_ctl in a temp dir on a free port (run as the
 * `postgres` user when we are root), stopped and deleted when the process
 * exits. $YUN_TEST_PG_THROWAWAY=1 forces the throwaway cluster.
 * Throws PostgresUnavailable when none of these works.
 *
 * `freshDatabase()` makes a new `yun_test_<random>` database whose default
 * collation is ICU (as on most production servers, so a key column that
 * forgets COLLATE "C" sorts wrongly in tests too) and drops it afterwards.
 */
import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFile = promisify(execFileCb);

export class PostgresUnavailable extends Error {
  override name = 'PostgresUnavailable';
}

export interface ThrowawayPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

let shared: Promise<string> | undefined; // per test process: one server for every test file's tests

export function withPostgres(): Promise<string> {
  shared ??= locate();
  return shared;
}

async function locate(): Promise<string> {
  const fromEnv = process.env.YUN_TEST_POSTGRES_URL;
  if (fromEnv) return fromEnv;
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (process.env.YUN_TEST_PG_THROWAWAY !== '1' && (await answers(local))) return local;
  const server = await startThrowawayPostgres();
  process.once('exit', () => stopSync(server.dataDir));
  return server.url;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false; // not there or not ours: fall back to a throwaway cluster
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface FreshDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new empty database; with a node:test context `t` it is dropped after that test. */
export async function freshDatabase(t?: { after(fn: () => Promise<void>): void }): Promise<FreshDatabase> {
  const admin = await withPostgres();
  const name = `yun_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(admin, async (c) => {
    try {
      await c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und'`);
    } catch {
      await c.query(`CREATE DATABASE ${name}`); // PostgreSQL < 15 or built without ICU
    }
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const db: FreshDatabase = {
    url: url.toString(),
    name,
    drop: () => adminQuery(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
  t?.after(db.drop);
  return db;
}

async function adminQuery<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Starts a private cluster (trust auth, fsync off) on a free loopback port. */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = findPgBin();
  if (!bin) throw new PostgresUnavailable('no initdb/pg_ctl found on PATH or under /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  const asUser = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (process.getuid?.() === 0 && !asUser) throw new PostgresUnavailable('running as root and no postgres user to run initdb as');
  const dir = mkdtempSync(join(tmpdir(), 'yun-pg-'));
  if (asUser) chownSync(dir, asUser.uid, asUser.gid);
  const dataDir = join(dir, 'data');
  const run = (tool: string, args: string[]) =>
    asUser ? execFile('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : execFile(join(bin, tool), args);
  try {
    const port = await freePort();
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
    await run('pg_ctl', ['-D', dataDir, '-l', join(dir, 'log'), '-o', opts, '-w', '-t', '30', 'start']);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dataDir,
      stop: async () => stopSync(dataDir),
    };
  } catch (err) {
    stopSync(dataDir);
    throw new PostgresUnavailable(`throwaway PostgreSQL failed to start: ${(err as Error).message}`);
  }
}

/** Synchronous so it can run from process 'exit'. Removes the whole temp dir. */
function stopSync(dataDir: string): void {
  const bin = findPgBin();
  if (bin && existsSync(join(dataDir, 'postmaster.pid'))) {
    const args = ['-D', dataDir, '-m', 'immediate', '-w', 'stop'];
    if (process.getuid?.() === 0) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]);
    else spawnSync(join(bin, 'pg_ctl'), args);
  }
  rmSync(join(dataDir, '..'), { recursive: true, force: true });
}

function findPgBin(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(':').find((d) => d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
