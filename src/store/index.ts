/**
 * Opens a state store from a URL and recognises engine errors without the
 * caller knowing which engine it has.
 *
 *   sqlite:/abs/path/yun.db   (sqlite:///abs/path/yun.db also accepted)
 *   sqlite::memory:
 *   postgres://user@host:5432/db   or postgresql://…
 */
import { YunError } from '../core/errors.ts';
import { isPgForeignKeyViolation, isPgUniqueViolation, PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.ts';
import { isSqliteForeignKeyViolation, isSqliteUniqueViolation, SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
import type { StateStore } from './types.ts';

export type { Migration, Row, Sql, SqlValue, StateStore } from './types.ts';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';

export interface OpenStoreOptions {
  sqlite?: SqliteStoreOptions;
  postgres?: PostgresStoreOptions;
}

/** Both engines' stores also carry `collateC` (see types.ts). */
export type OpenedStore = StateStore & { readonly collateC: string };

export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path !== ':memory:' && !path.startsWith('/')) {
      throw new YunError('ValidationFailed', `state store URL needs an absolute path: ${url}`, { field: 'store' });
    }
    return new SqliteStore(path, opts.sqlite);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const store = new PostgresStore(url, opts.postgres);
    try {
      await store.get('SELECT 1 AS ok'); // fail at open, not at first use
    } catch (err) {
      await store.close();
      throw new YunError('Unavailable', `cannot reach PostgreSQL state store: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }
  throw new YunError('ValidationFailed', `unsupported state store URL (want sqlite: or postgres://): ${redact(url)}`, {
    field: 'store',
  });
}

/** `COLLATE "C"` for PostgreSQL, nothing for SQLite: put after TEXT key columns. */
export function collateC(dialect: StateStore['dialect']): string {
  return dialect === 'postgres' ? ' COLLATE "C"' : '';
}

/** A UNIQUE or PRIMARY KEY constraint refused a write (either engine). */
export function isUniqueViolation(err: unknown): boolean {
  return isSqliteUniqueViolation(err) || isPgUniqueViolation(err);
}

/** A FOREIGN KEY constraint refused a write (either engine). */
export function isForeignKeyViolation(err: unknown): boolean {
  return isSqliteForeignKeyViolation(err) || isPgForeignKeyViolation(err);
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
