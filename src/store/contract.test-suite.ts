/**
 * The StateStore contract, run against every engine:
 *   runStoreContract('sqlite', () => openStore('sqlite::memory:'))
 * `open` may return stores sharing one database: every test uses its own
 * table names and migration service names.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { collateC, isForeignKeyViolation, isUniqueViolation } from './index.ts';
import type { Migration, StateStore } from './types.ts';

export function runStoreContract(name: string, open: () => Promise<StateStore>): void {
  const uniq = () => `ct_${randomBytes(4).toString('hex')}`;
  async function withStore(fn: (s: StateStore, t: string) => Promise<void>): Promise<void> {
    const s = await open();
    try {
      await fn(s, uniq());
    } finally {
      await s.close();
    }
  }

  describe(`StateStore contract: ${name}`, () => {
    test('? placeholders bind in order; a quoted ? is text', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY, n INTEGER, note TEXT)`);
        assert.deepEqual(await s.run(`INSERT INTO ${t} (id, n, note) VALUES (?, ?, ?), (?, ?, ?)`, ['a', 1, 'x?', 'b', 2, null]), {
          changes: 2,
        });
        const row = await s.get<{ q: string; id: string }>(`SELECT '?' AS q, id FROM ${t} WHERE n = ? AND note = ?`, [1, 'x?']);
        assert.deepEqual({ ...row }, { q: '?', id: 'a' });
        assert.equal(await s.get(`SELECT id FROM ${t} WHERE id = ?`, ['zz']), undefined);
        assert.deepEqual((await s.run(`UPDATE ${t} SET n = n + ? WHERE id IN (?, ?)`, [10, 'a', 'b'])).changes, 2);
        assert.deepEqual(
          (await s.all<{ id: string; n: number }>(`SELECT id, n FROM ${t} ORDER BY id`)).map((r) => [r.id, r.n]),
          [['a', 11], ['b', 12]],
        );
        await s.run(`UPDATE ${t} SET n = ? WHERE id = ?`, [true, 'a']);
        assert.equal((await s.get<{ n: number }>(`SELECT n FROM ${t} WHERE id = 'a'`))?.n, 1, 'booleans bind as 1/0');
      }));

    test('BIGINT, COUNT and SUM come back as JS numbers', () =>
      withStore(async (s, t) => {
        await s.migrate([{ service: t, version: 1, up: `CREATE TABLE ${t} (id TEXT PRIMARY KEY, size BIGINT, r REAL)` }]);
        const big = 2 ** 40 + 3;
        await s.run(`INSERT INTO ${t} VALUES (?, ?, ?), (?, ?, ?)`, ['a', big, 0.1, 'b', 5n, 1234567.891]);
        const row = await s.get<Record<string, unknown>>(`SELECT COUNT(*) AS c, SUM(size) AS total, MAX(r) AS r FROM ${t}`);
        assert.deepEqual({ ...row }, { c: 2, total: big + 5, r: 1234567.891 });
      }));

    test('tx commits all writes together', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY)`);
        const out = await s.tx(async (q) => {
          await q.run(`INSERT INTO ${t} VALUES (?)`, ['a']);
          await q.run(`INSERT INTO ${t} VALUES (?)`, ['b']);
          return (await q.all(`SELECT id FROM ${t}`)).length;
        });
        assert.equal(out, 2);
        assert.equal((await s.all(`SELECT id FROM ${t}`)).length, 2);
      }));

    test('tx rolls back every write when fn throws, and rethrows the same error', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY)`);
        const boom = new Error('boom');
        await assert.rejects(
          s.tx(async (q) => {
            await q.run(`INSERT INTO ${t} VALUES (?)`, ['a']);
            await q.run(`INSERT INTO ${t} VALUES (?)`, ['b']);
            throw boom;
          }),
          (err) => err === boom,
        );
        assert.deepEqual(await s.all(`SELECT id FROM ${t}`), []);
      }));

    test('nested tx joins the outer one; the store itself routes into it', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY)`);
        await assert.rejects(
          s.tx(async (q) => {
            await q.run(`INSERT INTO ${t} VALUES ('outer')`);
            await s.tx(async (q2) => {
              await q2.run(`INSERT INTO ${t} VALUES ('inner')`);
              assert.equal((await q2.all(`SELECT id FROM ${t}`)).length, 2, 'inner sees outer writes');
            });
            await s.run(`INSERT INTO ${t} VALUES ('via-store')`);
            assert.equal((await s.all(`SELECT id FROM ${t}`)).length, 3, 'store calls inside tx join it');
            throw new Error('undo all');
          }),
          /undo all/,
        );
        assert.deepEqual(await s.all(`SELECT id FROM ${t}`), [], 'inner and store writes rolled back with the outer');
        let leaked: import('./types.ts').Sql | undefined;
        await s.tx(async (q) => {
          leaked = q;
        });
        await assert.rejects(leaked!.get('SELECT 1 AS x'), /finished/);
      }));

    test('64 concurrent read-modify-write transactions lose no update', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`);
        await s.run(`INSERT INTO ${t} VALUES ('c', 0)`);
        await Promise.all(
          Array.from({ length: 64 }, () =>
            s.tx(async (q) => {
              const row = await q.get<{ n: number }>(`SELECT n FROM ${t} WHERE id = 'c'`);
              await new Promise((r) => setImmediate(r)); // let the others run in between
              await q.run(`UPDATE ${t} SET n = ? WHERE id = 'c'`, [row!.n + 1]);
            }),
          ),
        );
        assert.equal((await s.get<{ n: number }>(`SELECT n FROM ${t} WHERE id = 'c'`))?.n, 64);
      }));

    test('constraint violations are recognisable; a failed statement dooms its tx', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (id TEXT PRIMARY KEY, email TEXT UNIQUE)`);
        await s.run(`CREATE TABLE ${t}_child (id TEXT PRIMARY KEY, parent TEXT REFERENCES ${t}(id))`);
        await s.run(`INSERT INTO ${t} VALUES ('a', 'a@x')`);
        await assert.rejects(s.run(`INSERT INTO ${t} VALUES ('a', 'other')`), (e) => isUniqueViolation(e));
        await assert.rejects(s.run(`INSERT INTO ${t} VALUES ('b', 'a@x')`), (e) => isUniqueViolation(e));
        await assert.rejects(s.run(`INSERT INTO ${t}_child VALUES ('k', 'nope')`), (e) => isForeignKeyViolation(e) && !isUniqueViolation(e));
        await assert.rejects(s.run(`INSERT INTO ${t}_nope VALUES (1)`), (e) => !isUniqueViolation(e));
        assert.equal(isUniqueViolation(new Error('x')), false);
        await assert.rejects(
          s.tx(async (q) => {
            await q.run(`INSERT INTO ${t} VALUES ('c', 'c@x')`);
            await q.run(`INSERT INTO ${t} VALUES ('a', 'dup')`).catch(() => {}); // swallowed on purpose
            await assert.rejects(q.run(`INSERT INTO ${t} VALUES ('d', 'd@x')`), /aborted/);
          }),
          (e) => isUniqueViolation(e),
        );
        assert.deepEqual((await s.all<{ id: string }>(`SELECT id FROM ${t} ORDER BY id`)).map((r) => r.id), ['a']);
      }));

    test('BLOB round-trips every byte value; Uint8Array binds too', () =>
      withStore(async (s, t) => {
        await s.migrate([{ service: t, version: 1, up: `CREATE TABLE ${t} (id TEXT PRIMARY KEY, b BLOB)` }]);
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await s.run(`INSERT INTO ${t} VALUES (?, ?), (?, ?), (?, ?)`, ['all', all, 'u8', new Uint8Array([0, 255, 7]), 'empty', Buffer.alloc(0)]);
        const rows = await s.all<{ id: string; b: Buffer }>(`SELECT id, b FROM ${t} ORDER BY id`);
        for (const r of rows) assert.ok(Buffer.isBuffer(r.b), `${r.id} is a Buffer`);
        assert.deepEqual(rows.map((r) => [r.id, r.b.toString('hex')]), [
          ['all', all.toString('hex')],
          ['empty', ''],
          ['u8', '00ff07'],
        ]);
      }));

    test('TEXT keys sort by UTF-8 bytes (COLLATE "C" on PostgreSQL)', () =>
      withStore(async (s, t) => {
        await s.run(`CREATE TABLE ${t} (k TEXT${collateC(s.dialect)} PRIMARY KEY)`);
        const keys = ['中', 'b', '😀', 'a', 'é', 'B', '～', 'a/b', 'a-b', ''];
        for (const k of keys) await s.run(`INSERT INTO ${t} VALUES (?)`, [k]);
        const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        assert.deepEqual(byBytes.slice(0, 9), ['', 'B', 'a', 'a-b', 'a/b', 'b', 'é', '中', '～']);
        const got = (await s.all<{ k: string }>(`SELECT k FROM ${t} ORDER BY k`)).map((r) => r.k);
        assert.deepEqual(got, byBytes);
        const after = (await s.all<{ k: string }>(`SELECT k FROM ${t} WHERE k > ? ORDER BY k`, ['b'])).map((r) => r.k);
        assert.deepEqual(after, ['é', '中', '～', '😀']);
      }));

    test('migrate applies pending versions in order, once, atomically', () =>
      withStore(async (s, svc) => {
        const m: Migration[] = [
          { service: svc, version: 2, up: `ALTER TABLE ${svc}_a ADD COLUMN extra TEXT; INSERT INTO ${svc}_a (id, extra) VALUES ('v2', 'x')` },
          { service: svc, version: 1, up: { sqlite: `CREATE TABLE ${svc}_a (id TEXT PRIMARY KEY)`, postgres: `CREATE TABLE ${svc}_a (id TEXT COLLATE "C" PRIMARY KEY)` } },
        ];
        await s.migrate(m);
        await s.migrate(m);
        assert.equal((await s.all(`SELECT id FROM ${svc}_a`)).length, 1, 'v2 ran exactly once');
        const broken: Migration = { service: svc, version: 3, up: `CREATE TABLE ${svc}_b (id TEXT); INSERT INTO ${svc}_nope VALUES (1)` };
        await assert.rejects(s.migrate([...m, broken]));
        await assert.rejects(s.all(`SELECT id FROM ${svc}_b`), 'failed migration left no table behind');
        await s.migrate([...m, { ...broken, up: `CREATE TABLE ${svc}_b (id TEXT)` }]);
        const versions = await s.all<{ version: number; applied_at: string }>(
          'SELECT version, applied_at FROM schema_migrations WHERE service = ? ORDER BY version',
          [svc],
        );
        assert.deepEqual(versions.map((v) => v.version), [1, 2, 3]);
        assert.ok(versions.every((v) => !Number.isNaN(Date.parse(v.applied_at))));
        await assert.rejects(s.migrate([m[0]!, m[0]!]), /duplicate/);
      }));

    test('two stores migrating at once both succeed, applying each version once', async () => {
      const [a, b] = [await open(), await open()];
      try {
        const svc = uniq();
        const m: Migration[] = Array.from({ length: 5 }, (_, i) => ({
          service: svc,
          version: i + 1,
          up: i === 0 ? `CREATE TABLE ${svc} (v INTEGER)` : `INSERT INTO ${svc} VALUES (${i + 1})`,
        }));
        await Promise.all([a.migrate(m), b.migrate(m)]);
        assert.equal((await a.all(`SELECT v FROM ${svc}`)).length, 4);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
