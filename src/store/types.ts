/**
 * The state store: one interface, two engines (SQLite embedded, PostgreSQL for
 * scale-out). Services own their tables through migrations and talk SQL that
 * both engines accept: `?` placeholders (rewritten to `$n` for PostgreSQL),
 * TEXT/INTEGER/BIGINT/REAL/BLOB columns (BLOB maps to BYTEA), JSON stored as
 * TEXT, timestamps as ISO-8601 TEXT or epoch-millisecond BIGINT.
 * Text keys that must sort by UTF-8 bytes use `COLLATE "C"` on PostgreSQL
 * (SQLite's default BINARY collation already does) — write it through
 * `store.collateC` when creating such columns in a dialect-specific migration.
 */
export type SqlValue = string | number | bigint | boolean | null | Buffer | Uint8Array;
export type Row = Record<string, unknown>;

export interface Sql {
  /** All rows of a query. */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** First row or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement without rows; `changes` counts affected rows. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

export interface Migration {
  /** Owning service, e.g. `core`, `identity`, `objects`. Versions count per service. */
  service: string;
  version: number;
  /** One SQL script for both engines, or one per engine. Statements separated by `;`. */
  up: string | { sqlite: string; postgres: string };
}

export interface StateStore extends Sql {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in one serializable transaction: all of its writes commit
   * together or none do. A thrown error rolls back and is rethrown.
   * Nested calls join the outer transaction.
   */
  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T>;
  /** Applies pending migrations in (service, version) order; idempotent. */
  migrate(migrations: readonly Migration[]): Promise<void>;
  close(): Promise<void>;
}
