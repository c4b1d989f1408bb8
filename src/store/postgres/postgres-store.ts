/**
 * PostgreSQL engine of the state store (`pg` Pool).
 *
 * Isolation: every `tx` runs at SERIALIZABLE, matching SQLite's one-writer
 * semantics, so read-modify-write inside a transaction never loses updates.
 * The price: PostgreSQL may abort a transaction with a serialization failure
 * (40001) or deadlock (40P01); `tx` then rolls back and runs `fn` again, up to
 * `maxTxAttempts` times with jittered backoff. `fn` must therefore have no
 * side effects outside the database (or tolerate repeating them).
 *
 * What it cannot do: run `?` through the JSONB `?` operators (every `?`
 * outside quotes and comments is a placeholder; use jsonb_exists()), or keep
 * a column alias's case (PostgreSQL folds unquoted names: alias in snake_case).
 * Shared migration scripts get BLOB → BYTEA and REAL → DOUBLE PRECISION.
 * BIGINT and NUMERIC come back as numbers; a BIGINT beyond 2^53 comes back as
 * a bigint rather than silently rounded.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { Migration, Row, Sql, SqlValue, StateStore } from '../types.ts';
import { MIGRATIONS_TABLE_SQL, orderMigrations, scriptFor, transactionAborted } from '../sqlite/engine-common.ts';
import { translateDdl } from './ddl.ts';
import { rewritePlaceholders } from './placeholders.ts';

export interface PostgresStoreOptions {
  /** Pool size. Default 10. */
  max?: number;
  /** Attempts of a transaction that keeps hitting serialization failures. Default 30. */
  maxTxAttempts?: number;
  /** Errors of idle pooled connections (server restart, network). Default: process warning. */
  onIdleError?: (err: Error) => void;
}

interface TxFrame {
  client: pg.PoolClient;
  done: boolean;
  /** First statement that failed: PostgreSQL has aborted the transaction. */
  failed?: unknown;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Per-pool type parsers: never mutate pg's global `types`. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    if (oid === NUMERIC_OID && format !== 'binary') return Number;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

const MIGRATION_LOCK = "hashtext('yun.schema_migrations')";

export class PostgresStore implements StateStore {
  readonly dialect = 'postgres' as const;
  /** Append to a TEXT column definition so it sorts by UTF-8 bytes, like SQLite. */
  readonly collateC = ' COLLATE "C"';
  readonly #pool: pg.Pool;
  readonly #als = new AsyncLocalStorage<TxFrame>();
  readonly #maxAttempts: number;
  /** `?` → `$n` rewrites, bounded like SQLite's statement cache. */
  readonly #texts = new Map<string, string>();

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    this.#maxAttempts = Math.max(1, opts.maxTxAttempts ?? 30);
    this.#pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types: TYPES });
    const onIdleError = opts.onIdleError ?? ((err: Error) => process.emitWarning(err, 'PostgresStoreIdleError'));
    this.#pool.on('error', onIdleError);
  }

  async all<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.#query(this.#current(), sql, params)).rows as T[];
  }

  async get<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return (await this.#query(this.#current(), sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return { changes: (await this.#query(this.#current(), sql, params)).rowCount ?? 0 };
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const outer = this.#current();
    if (outer) return fn(this.#txSql(outer));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(fn);
      } catch (err) {
        if (!isRetryable(err) || attempt >= this.#maxAttempts) throw err;
        const cap = Math.min(100, 2 ** attempt);
        await new Promise((r) => setTimeout(r, Math.random() * cap));
      }
    }
  }

  async #attempt<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const frame: TxFrame = { client, done: false };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      try {
        const result = await this.#als.run(frame, () => fn(this.#txSql(frame)));
        // A failed statement that fn swallowed: COMMIT would silently roll back.
        if (frame.failed !== undefined) throw frame.failed;
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => {
          broken = e;
        });
        throw err;
      }
    } finally {
      frame.done = true;
      client.release(broken);
    }
  }

  async migrate(migrations: readonly Migration[]): Promise<void> {
    const plan = orderMigrations(migrations);
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      // Session lock: a second process starting at the same time waits here.
      await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
      try {
        await client.query(MIGRATIONS_TABLE_SQL);
        const { rows } = await client.query<{ service: string; version: number }>(
          'SELECT service, version FROM schema_migrations',
        );
        const applied = new Set(rows.map((r) => `${r.service}\0${r.version}`));
        for (const m of plan) {
          if (applied.has(`${m.service}\0${m.version}`)) continue;
          await client.query('BEGIN');
          try {
            const script = typeof m.up === 'string' ? translateDdl(m.up) : scriptFor(m, 'postgres');
            await client.query(script); // simple protocol: many statements in one round trip
            await client.query('INSERT INTO schema_migrations (service, version, applied_at) VALUES ($1, $2, $3)', [
              m.service,
              m.version,
              new Date().toISOString(),
            ]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch((e: Error) => {
              broken = e;
            });
            throw new Error(`migration ${m.service} v${m.version} failed: ${(err as Error).message}`, { cause: err });
          }
        }
      } finally {
        if (!broken) await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
      }
    } finally {
      client.release(broken); // a destroyed session drops its advisory lock too
    }
  }

  close(): Promise<void> {
    return this.#pool.end();
  }

  #text(sql: string): string {
    let text = this.#texts.get(sql);
    if (text === undefined) {
      text = rewritePlaceholders(sql).text;
      if (this.#texts.size >= 512) this.#texts.clear();
      this.#texts.set(sql, text);
    }
    return text;
  }

  #current(): TxFrame | undefined {
    const frame = this.#als.getStore();
    return frame && !frame.done ? frame : undefined;
  }

  #txSql(frame: TxFrame): Sql {
    const guard = (): TxFrame => {
      if (frame.done) throw new Error('transaction already finished; use the store, not its q');
      return frame;
    };
    return {
      all: async <T = Row>(sql: string, params: readonly SqlValue[] = []) =>
        (await this.#query(guard(), sql, params)).rows as T[],
      get: async <T = Row>(sql: string, params: readonly SqlValue[] = []) =>
        (await this.#query(guard(), sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => ({
        changes: (await this.#query(guard(), sql, params)).rowCount ?? 0,
      }),
    };
  }

  async #query(frame: TxFrame | undefined, sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    const query = { text: this.#text(sql), values: params.map(toPg) };
    if (!frame) return this.#pool.query(query);
    if (frame.failed !== undefined) throw transactionAborted(frame.failed);
    try {
      return await frame.client.query(query);
    } catch (err) {
      frame.failed ??= err;
      throw err;
    }
  }
}

function toPg(v: SqlValue): unknown {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

export function openPostgresStore(url: string, opts?: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(url, opts);
}

/** True for PostgreSQL unique_violation (23505). */
export function isPgUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23505';
}

/** True for PostgreSQL foreign_key_violation (23503). */
export function isPgForeignKeyViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '23503';
}
