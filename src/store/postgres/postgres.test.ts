import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, PostgresUnavailable, startThrowawayPostgres, withPostgres } from '../../../test/helpers/postgres.ts';
import { runStoreContract } from '../contract.test-suite.ts';
import { openStore } from '../index.ts';

// One fresh database for this run, dropped at the end.
let url: string | undefined;
let unavailable: string | undefined;
let drop: (() => Promise<void>) | undefined;

before(async () => {
  try {
    const db = await freshDatabase();
    url = db.url;
    drop = db.drop;
  } catch (err) {
    if (!(err instanceof PostgresUnavailable)) throw err;
    unavailable = err.message;
  }
});
after(async () => {
  await drop?.();
});

runStoreContract('postgres', async () => {
  if (!url) {
    // Without a server the contract cannot run: refuse to pass silently.
    if (process.env.CI === 'true') throw new Error(`PostgreSQL required under CI=true: ${unavailable}`);
    throw new Error(`PostgreSQL unavailable: ${unavailable} (install the postgresql package)`);
  }
  return openStore(url, { postgres: { max: 8 } });
});

describe('postgres engine specifics', () => {
  test('BIGINT beyond 2^53 comes back exact, as a bigint', async () => {
    const store = await openStore(url!);
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

  test('throwaway cluster (the helper fallback) serves queries and is removed by stop()', async () => {
    const server = await startThrowawayPostgres();
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

  test('withPostgres returns the same admin URL every time', async () => {
    assert.equal(await withPostgres(), await withPostgres());
  });
});
