/**
 * Engine-neutral pieces shared by both engines (kept here because the top
 * of src/store/ is shared ground): migration planning and the
 * "a failed statement dooms its transaction" error.
 */
import type { Migration } from '../types.ts';

export const MIGRATIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  service TEXT NOT NULL,
  version INTEGER NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (service, version)
)`;

/** Sorted copy; throws on a duplicate (service, version) or a bad version. */
export function orderMigrations(migrations: readonly Migration[]): Migration[] {
  const seen = new Set<string>();
  for (const m of migrations) {
    if (!m.service || !Number.isSafeInteger(m.version) || m.version < 0) {
      throw new Error(`invalid migration ${JSON.stringify({ service: m.service, version: m.version })}`);
    }
    const key = `${m.service}\0${m.version}`;
    if (seen.has(key)) throw new Error(`duplicate migration ${m.service} v${m.version}`);
    seen.add(key);
  }
  return [...migrations].sort((a, b) =>
    a.service === b.service ? a.version - b.version : a.service < b.service ? -1 : 1,
  );
}

export function scriptFor(m: Migration, dialect: 'sqlite' | 'postgres'): string {
  return typeof m.up === 'string' ? m.up : m.up[dialect];
}

/**
 * Both engines refuse further statements once one has failed inside a
 * transaction (PostgreSQL aborts it; SQLite is made to match), and `tx`
 * then rejects with the first failure even if `fn` swallowed it. Code that
 * expects a conflict uses INSERT … ON CONFLICT instead of catching.
 */
export function transactionAborted(cause: unknown): Error {
  const err = new Error('transaction aborted by an earlier failed statement; tx() will roll back', { cause });
  (err as Error & { code: string }).code = 'TX_ABORTED';
  return err;
}
