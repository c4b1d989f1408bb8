/**
 * SQLite engine of the state store (better-sqlite3, one connection).
 *
 * What it cannot do: run queries in parallel (better-sqlite3 is synchronous,
 * so every query blocks the event loop for its duration) or share a
 * transaction with another process. A transaction holds an in-process mutex
 * from BEGIN IMMEDIATE to COMMIT, so while `fn` awaits anything slow every
 * other query of this store waits too: keep transactions short and free of
 * network calls. Another connection to the same file (another process, or a
 * second store in this one) is serialised by SQLite's write lock: SQLITE_BUSY
 * is retried asynchronously for up to `busyTimeoutMs` (SQLite's own
 * busy_timeout would block the event loop and deadlock two stores in one
 * process), then surfaces as the SQLITE_BUSY error.
 *
 * Durability: WAL journal with synchronous=FULL (fsync at every commit), so
 * an acknowledged write survives kill -9 (kill9.test.ts) and power loss.
 * NORMAL also survives kill -9 but may lose the last commits on power loss.
 * Measured on ext4/virtio, 2 cores: FULL ~4.5k commits/s, NORMAL ~28k/s;
 * point reads ~120-160k/s either way. A control plane commits far fewer than
 * 4.5k/s, so FULL is the default; `synchronous: 'NORMAL'` is there for
 * throwaway or benchmark stores.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Migration, Row, Sql, SqlValue, StateStore } from '../types.ts';
import { Mutex } from './mutex.ts';
import { MIGRATIONS_TABLE_SQL, orderMigrations, scriptFor, transactionAborted } from './engine-common.ts';

export interface SqliteStoreOptions {
  /** `FULL` (default) or `NORMAL`; see the module comment. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long to wait for another process's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Prepared statements kept per connection. Default 256. */
  statementCacheSize?: number;
}

type Statement = Database.Statement<unknown[], unknown>;

/** One open transaction; `done` turns true at COMMIT/ROLLBACK. */
interface TxFrame {
  done: boolean;
  /** First statement that failed: the transaction is doomed (as on PostgreSQL). */
  failed?: unknown;
}

export class SqliteStore implements StateStore {
  readonly dialect = 'sqlite' as const;
  /** SQLite's default BINARY collation already sorts by UTF-8 bytes. */
  readonly collateC = '';
  readonly path: string;
  readonly #db: Database.Database;
  readonly #mutex = new Mutex();
  readonly #als = new AsyncLocalStorage<TxFrame>();
  readonly #cache = new Map<string, Statement>();
  readonly #cacheSize: number;
  readonly #busyTimeoutMs: number;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.#cacheSize = opts.statementCacheSize ?? 256;
    this.#busyTimeoutMs = Math.max(0, opts.busyTimeoutMs ?? 5000);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      if (path !== ':memory:') {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') throw new Error(`SQLite refused WAL mode for ${path} (got ${mode})`);
      }
      db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma('busy_timeout = 0'); // waits happen asynchronously, see #retryBusy
      db.pragma('foreign_keys = ON');
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
  }

  all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.#exec(() => this.#all<T>(sql, params));
  }

  get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.#exec(() => this.#get<T>(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return this.#exec(() => this.#run(sql, params));
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const outer = this.#als.getStore();
    if (outer && !outer.done) return fn(this.#txSql(outer));
    const release = await this.#mutex.acquire();
    const frame: TxFrame = { done: false };
    try {
      await this.#retryBusy(() => this.#db.exec('BEGIN IMMEDIATE'));
      try {
        const result = await this.#als.run(frame, () => fn(this.#txSql(frame)));
        if (frame.failed !== undefined) throw frame.failed;
        this.#db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      frame.done = true;
      release();
    }
  }

  async migrate(migrations: readonly Migration[]): Promise<void> {
    const plan = orderMigrations(migrations);
    await this.#exec(() => this.#db.exec(MIGRATIONS_TABLE_SQL));
    const applied = new Set(
      (await this.all<{ service: string; version: number }>('SELECT service, version FROM schema_migrations')).map(
        (r) => `${r.service}\0${r.version}`,
      ),
    );
    for (const m of plan) {
      if (applied.has(`${m.service}\0${m.version}`)) continue;
      await this.tx(async (q) => {
        // Another process may have applied it since we looked.
        const done = await q.get('SELECT 1 AS x FROM schema_migrations WHERE service = ? AND version = ?', [m.service, m.version]);
        if (done) return;
        this.#db.exec(scriptFor(m, 'sqlite'));
        await q.run('INSERT INTO schema_migrations (service, version, applied_at) VALUES (?, ?, ?)', [
          m.service,
          m.version,
          new Date().toISOString(),
        ]);
      });
    }
  }

  async close(): Promise<void> {
    const release = await this.#mutex.acquire();
    try {
      if (this.#db.open) this.#db.close();
      this.#cache.clear();
    } finally {
      release();
    }
  }

  /** Runs a synchronous statement inside the current transaction, or under the mutex. */
  #exec<T>(work: () => T): Promise<T> {
    const frame = this.#als.getStore();
    if (frame && !frame.done) return inTx(frame, work);
    const release = this.#mutex.tryAcquire();
    if (!release) return this.#locked(work);
    try {
      return Promise.resolve(work());
    } catch (err) {
      return isBusy(err) ? this.#locked(work) : Promise.reject(err);
    } finally {
      release();
    }
  }

  async #locked<T>(work: () => T): Promise<T> {
    const release = await this.#mutex.acquire();
    try {
      return await this.#retryBusy(work);
    } finally {
      release();
    }
  }

  /** Retries a statement refused with SQLITE_BUSY (another connection writes) without blocking. */
  async #retryBusy<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        return work();
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  }

  /** The `q` handed to a transaction body: runs directly, refuses use after the end. */
  #txSql(frame: TxFrame): Sql {
    const guard = <T>(work: () => T): Promise<T> =>
      frame.done ? Promise.reject(new Error('transaction already finished; use the store, not its q')) : inTx(frame, work);
    return {
      all: <T = Row>(sql: string, params: readonly SqlValue[] = []) => guard(() => this.#all<T>(sql, params)),
      get: <T = Row>(sql: string, params: readonly SqlValue[] = []) => guard(() => this.#get<T>(sql, params)),
      run: (sql: string, params: readonly SqlValue[] = []) => guard(() => this.#run(sql, params)),
    };
  }

  #all<T>(sql: string, params: readonly SqlValue[]): T[] {
    const stmt = this.#prepare(sql);
    const p = bindable(params);
    if (stmt.reader) return stmt.all(p) as T[];
    stmt.run(p);
    return [];
  }

  #get<T>(sql: string, params: readonly SqlValue[]): T | undefined {
    const stmt = this.#prepare(sql);
    const p = bindable(params);
    if (stmt.reader) return stmt.get(p) as T | undefined;
    stmt.run(p);
    return undefined;
  }

  #run(sql: string, params: readonly SqlValue[]): { changes: number } {
    return { changes: this.#prepare(sql).run(bindable(params)).changes };
  }

  #prepare(sql: string): Statement {
    let stmt = this.#cache.get(sql);
    if (stmt) {
      this.#cache.delete(sql); // re-insert: Map order is our LRU order
    } else {
      stmt = this.#db.prepare(sql);
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
    }
    this.#cache.set(sql, stmt);
    return stmt;
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function inTx<T>(frame: TxFrame, work: () => T): Promise<T> {
  if (frame.failed !== undefined) return Promise.reject(transactionAborted(frame.failed));
  try {
    return Promise.resolve(work());
  } catch (err) {
    frame.failed ??= err;
    return Promise.reject(err);
  }
}

/** better-sqlite3 binds numbers, strings, bigints, Buffers and null only. */
function bindable(params: readonly SqlValue[]): unknown[] {
  return params.map((v) => {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return v;
  });
}

/** Opens (creating if needed) a SQLite state store at an absolute path or `:memory:`. */
export function openSqliteStore(path: string, opts?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(path, opts);
}

/** True for SQLite UNIQUE / PRIMARY KEY constraint failures. */
export function isSqliteUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** True for SQLite FOREIGN KEY constraint failures. */
export function isSqliteForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
