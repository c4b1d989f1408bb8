/**
 * SQLite engine of the state store (better-sqlite3, one connection).
 *
 * What it cannot do: run queries in parallel (better-sqlite3 is synchronous,
 * so every query blocks the event loop for its duration) or share a
 * transaction with another process. A transaction holds an in-process mutex
 * from BEGIN IMMEDIATE to COMMIT, so while `fn` awaits anything slow every
 * other query of this store waits too: keep transactions short and free of
 * network calls. Concurrent transactions are group-committed: each runs in
 * its own SAVEPOINT of one SQLite transaction that commits once per
 * event-loop turn (see #commitBatch), so a burst of N creates costs one WAL
 * commit, not N, and each caller is still answered only after the COMMIT
 * that carries its writes. WAL checkpoints run in a worker thread
 * (checkpointer.ts), not inside a COMMIT on the event loop. Another
 * connection to the same file (another process, or a second store in this
 * one) is serialised by SQLite's write lock: SQLITE_BUSY
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
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Migration, Row, Sql, SqlValue, StateStore } from '../types.ts';
import { Checkpointer, WAL_BYTES } from './checkpointer.ts';
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

/** A `tx()` call waiting for its turn in a group commit. */
interface PendingTx {
  fn: (q: Sql) => Promise<unknown>;
  /** The caller's async context, which the body runs in. */
  caller: AsyncResource;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** Most transactions one COMMIT carries, and how long a batch keeps taking new ones. */
const BATCH_MAX = 128;
const BATCH_MS = 5;

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
  readonly #controls = new Map<string, Statement>();
  /** The synchronous statement runners, handed once to every transaction's `q`. */
  readonly #ops: SqlOps = {
    all: (sql, params) => this.#all(sql, params),
    get: (sql, params) => this.#get(sql, params),
    run: (sql, params) => this.#run(sql, params),
  };
  readonly #cacheSize: number;
  readonly #busyTimeoutMs: number;
  /** Transactions waiting for the group-commit loop. */
  readonly #queue: PendingTx[] = [];
  #committing = false;
  /** WAL checkpoints in a worker thread (file stores only). */
  readonly #checkpointer?: Checkpointer;
  /** The WAL-index file, read by `changeStamp` (file stores only). */
  #shm?: number;
  readonly #stampBuf = Buffer.alloc(96);

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
      if (path !== ':memory:') {
        db.pragma('wal_autocheckpoint = 0'); // see checkpointer.ts
        db.pragma(`journal_size_limit = ${WAL_BYTES}`);
        this.#checkpointer = new Checkpointer(path, () => {
          if (db.open) db.pragma('wal_autocheckpoint = 1000');
        });
      }
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
  }

  /**
   * A token that changes whenever any connection to this database commits
   * (undefined when it cannot tell): the WAL-index header, which SQLite
   * rewrites at every commit with a bumped change counter
   * (https://www.sqlite.org/walformat.html, "the WAL-index header"). It is
   * read with one pread and no lock, so it costs a fraction of a query,
   * which must take and drop a read lock; the two copies SQLite keeps must
   * agree, else a commit is in flight and the answer is undefined.
   * Uncommitted writes of an open group commit do not change it.
   */
  changeStamp(): string | undefined {
    if (this.#shm === undefined) {
      if (this.path === ':memory:' || !this.#db.open) return undefined;
      try {
        this.#shm = openSync(`${this.path}-shm`, 'r');
      } catch {
        return undefined;
      }
    }
    const b = this.#stampBuf;
    if (readSync(this.#shm, b, 0, 96, 0) !== 96 || b.compare(b, 0, 48, 48, 96) !== 0) return undefined;
    return b.toString('latin1', 0, 48);
  }

  /** WAL checkpoints done off the event loop so far (see checkpointer.ts). */
  get walCheckpoints(): number {
    return this.#checkpointer?.completed ?? 0;
  }

  all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.#exec(() => this.#all<T>(sql, params));
  }

  get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.#exec(() => this.#get<T>(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    const frame = this.#als.getStore();
    if (frame && !frame.done) return inTx(frame, () => this.#run(sql, params));
    return this.#exec(() => {
      const r = this.#run(sql, params);
      this.#checkpointer?.wrote();
      return r;
    });
  }

  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const outer = this.#als.getStore();
    if (outer && !outer.done) return fn(this.#txSql(outer));
    return new Promise<T>((resolve, reject) => {
      // The body runs later from the commit loop, but in its caller's async context.
      this.#queue.push({ fn: fn as (q: Sql) => Promise<unknown>, caller: new AsyncResource('yun.sqlite.tx'), resolve: resolve as (v: unknown) => void, reject });
      if (!this.#committing) void this.#commitLoop();
    });
  }

  /**
   * Group commit: runs queued transactions one after another, each inside a
   * SAVEPOINT of one shared SQLite transaction, and commits them together
   * once no more arrive within the current event-loop turn (or the batch is
   * full). Each caller is answered only after that COMMIT returned, so an
   * acknowledged transaction is as durable as before; one whose body fails
   * is rolled back to its savepoint and answered at once. The store's mutex
   * is held from BEGIN to COMMIT, so a plain read outside a transaction
   * waits for the batch and never sees unacknowledged writes.
   */
  async #commitLoop(): Promise<void> {
    this.#committing = true;
    try {
      while (this.#queue.length > 0) {
        const release = await this.#mutex.acquire();
        try {
          await this.#commitBatch();
        } finally {
          release();
        }
      }
    } finally {
      this.#committing = false;
    }
  }

  async #commitBatch(): Promise<void> {
    try {
      await this.#retryBusy(() => this.#control('BEGIN IMMEDIATE'));
    } catch (err) {
      this.#queue.shift()?.reject(err); // as before: the transaction that could not begin fails
      return;
    }
    const done: Array<{ p: PendingTx; result: unknown }> = [];
    const started = Date.now();
    let lost: unknown; // set when SQLite dropped the whole transaction
    for (let turn = 0; ; turn++) {
      while (this.#queue.length > 0 && done.length < BATCH_MAX && lost === undefined && Date.now() - started <= BATCH_MS) {
        const p = this.#queue.shift()!;
        const frame: TxFrame = { done: false };
        try {
          this.#control('SAVEPOINT yun_tx');
          const result = await p.caller.runInAsyncScope(() => this.#als.run(frame, () => p.fn(this.#txSql(frame))));
          if (frame.failed !== undefined) throw frame.failed;
          frame.done = true;
          this.#control('RELEASE yun_tx');
          done.push({ p, result });
        } catch (err) {
          frame.done = true;
          p.reject(err);
          try {
            if (!this.#db.inTransaction) throw err; // e.g. SQLITE_FULL/IOERR roll back everything
            this.#control('ROLLBACK TO yun_tx');
            this.#control('RELEASE yun_tx');
          } catch (e) {
            lost = e;
          }
        }
      }
      if (lost !== undefined || done.length >= BATCH_MAX || turn > 0 || Date.now() - started > BATCH_MS) break;
      // Let the requests read in this event-loop turn queue up behind us.
      await new Promise((r) => setImmediate(r));
      if (this.#queue.length === 0) break;
    }
    try {
      if (lost !== undefined) throw transactionLost(lost);
      this.#control('COMMIT');
      this.#checkpointer?.wrote();
    } catch (err) {
      try {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      } catch { /* the batch is answered with the first failure below */ }
      for (const d of done) d.p.reject(err);
      return;
    }
    for (const d of done) d.p.resolve(d.result);
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
      await this.#checkpointer?.close();
      if (this.#shm !== undefined) closeSync(this.#shm);
      this.#shm = undefined;
      if (this.#db.open) this.#db.close();
      this.#cache.clear();
      this.#controls.clear();
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
    return new TxSql(this.#ops, frame);
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

  /** Transaction-control statements, prepared once (the group commit runs two per transaction). */
  #control(sql: string): void {
    let stmt = this.#controls.get(sql);
    if (!stmt) this.#controls.set(sql, (stmt = this.#db.prepare(sql)));
    stmt.run();
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

interface SqlOps {
  all<T>(sql: string, params: readonly SqlValue[]): T[];
  get<T>(sql: string, params: readonly SqlValue[]): T | undefined;
  run(sql: string, params: readonly SqlValue[]): { changes: number };
}

/** The `q` handed to a transaction body (a class: no closures per transaction). */
class TxSql implements Sql {
  constructor(private readonly ops: SqlOps, private readonly frame: TxFrame) {}

  all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.guard(() => this.ops.all<T>(sql, params));
  }

  get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.guard(() => this.ops.get<T>(sql, params));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return this.guard(() => this.ops.run(sql, params));
  }

  /** Runs directly; refuses use after the end. */
  private guard<T>(work: () => T): Promise<T> {
    return this.frame.done ? Promise.reject(new Error('transaction already finished; use the store, not its q')) : inTx(this.frame, work);
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
  let plain = true;
  for (const v of params) if (typeof v === 'boolean' || (v instanceof Uint8Array && !Buffer.isBuffer(v))) plain = false;
  if (plain) return params as unknown[]; // the common case: bind as is, no copy
  return params.map((v) => {
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return v;
  });
}

/** A batch member failed in a way that made SQLite roll back the whole batch. */
function transactionLost(cause: unknown): Error {
  const err = new Error('the group commit was rolled back by a failure in another transaction; retry', { cause });
  (err as Error & { code: string }).code = 'TX_LOST';
  return err;
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
