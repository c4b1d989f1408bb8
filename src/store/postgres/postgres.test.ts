import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, type TestContext, test } from 'node:test';
import pg from 'pg';
import {
  type FreshDatabase,
  freshDatabase,
  PostgresUnavailable,
  startThrowawayPostgres,
  withPostgres,
} from '../../../test/helpers/postgres.ts';
import { runStoreContract } from '../contract.test-suite.ts';
import { openStore } from '../index.ts';

/** A missing PostgreSQL skips locally and fails under CI=true. */
function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`required capability missing under CI=true: ${reason}`);
  t.skip(reason);
}

// One fresh database for this run, dropped at the end.
let db: FreshDatabase | undefined;
let unavailable = '';
try {
  db = await freshDatabase();
} catch (err) {
  if (!(err instanceof PostgresUnavailable)) throw err;
  unavailable = err.message;
}

if (!db) {
  test('postgres state store', (t) => skipOrFail(t, unavailable));
} else {
  const url = db.url;
  after(db.drop);

  runStoreContract('postgres', () => openStore(url, { postgres: { max: 8 } }));

  describe('postgres engine specifics', () => {
    test('BIGINT beyond 2^53 comes back exact, as a bigint', async () => {
      const store = await openStore(url);
      try {
        const row = await store.get<{ b: unknown; s: unknown }>('SELECT 9007199254740993::bigint AS b, 42::bigint AS s');
        assert.deepEqual({ ...row }, { b: 9007199254740993n, s: 42 });
        assert.equal((await store.get<{ x: string }>('SELECT ?::bigint::text AS x', [2n ** 62n]))?.x, String(2n ** 62n));
      } finally {
        await store.close();
      }
    });

    test('a store that cannot reach its server fails at open', async () => {
      await assert.rejects(openStore('postgres://postgres@127.0.0.1:1/none'), /cannot reach PostgreSQL/);
    });

    test('withPostgres returns the same admin URL every time', async () => {
      assert.equal(await withPostgres(), await withPostgres());
    });
  });
}

test('throwaway cluster (the helper fallback) serves queries and is removed by stop()', async (t) => {
  let server: Awaited<ReturnType<typeof startThrowawayPostgres>>;
  try {
    server = await startThrowawayPostgres();
  } catch (err) {
    if (err instanceof PostgresUnavailable) return skipOrFail(t, err.message);
    throw err;
  }
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    assert.equal((await client.query('SELECT 1 + 1 AS two')).rows[0].two, 2);
    await client.end();
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(server.dataDir), false);
});
