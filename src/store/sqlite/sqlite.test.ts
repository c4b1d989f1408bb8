import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runStoreContract } from '../contract.test-suite.ts';
import { openStore } from '../index.ts';
import type { SqliteStore } from './sqlite-store.ts';

runStoreContract('sqlite :memory:', () => openStore('sqlite::memory:'));

const dir = mkdtempSync(join(tmpdir(), 'yun-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// One file shared by every test: this also runs two connections (two stores) on one file.
runStoreContract('sqlite file (WAL)', () => openStore(`sqlite:${join(dir, 'state.db')}`));

test('group commit: concurrent transactions share a commit, each answered only once it is durable', async () => {
  const path = join(dir, 'group.db');
  const s = await openStore(`sqlite:${path}`);
  const other = await openStore(`sqlite:${path}`); // a second connection sees only committed rows
  try {
    await s.run('CREATE TABLE g (id INTEGER PRIMARY KEY)');
    const seen: string[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) =>
      s.tx(async (q) => {
        await q.run('INSERT INTO g (id) VALUES (?)', [i]);
        if (i === 7) throw new Error('seven fails alone');
      }).then(
        async () => {
          const row = await other.get<{ id: number }>('SELECT id FROM g WHERE id = ?', [i]);
          seen.push(row ? 'committed' : `tx ${i} answered before its commit`);
        },
        (err: Error) => seen.push(err.message),
      )));
    assert.deepEqual(seen.filter((x) => x !== 'committed'), ['seven fails alone']);
    assert.equal((await other.get<{ n: number }>('SELECT COUNT(*) AS n FROM g'))?.n, 19);
    assert.equal(await other.get('SELECT id FROM g WHERE id = 7'), undefined, 'the failed one rolled back to its savepoint');
  } finally {
    await other.close();
    await s.close();
  }
});

test('WAL checkpoints run in a worker thread and keep the WAL bounded', async () => {
  const path = join(dir, 'ckpt.db');
  const s = await openStore(`sqlite:${path}`) as SqliteStore;
  try {
    await s.run('CREATE TABLE b (i INTEGER PRIMARY KEY, pad BLOB NOT NULL)');
    const pad = Buffer.alloc(64 << 10, 1);
    let i = 0;
    const write = async (n: number) => {
      for (const end = i + n; i < end; i++) {
        await s.tx(async (q) => { await q.run('INSERT INTO b (i, pad) VALUES (?, ?)', [i, pad]); });
        if (i % 16 === 0) await new Promise((r) => setTimeout(r, 1)); // let the worker's answers in
      }
    };
    while (s.walCheckpoints === 0 && i < 3000) await write(16); // the worker starts on the first big WAL
    assert.ok(s.walCheckpoints > 0, 'no checkpoint ran in the worker');
    const before = statSync(`${path}-wal`).size;
    // ~19 MiB more in bursts with short pauses, as real traffic has; SQLite's
    // own checkpoints are off, so only the worker keeps the WAL small.
    for (let burst = 0; burst < 20; burst++) {
      await write(15);
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = statSync(`${path}-wal`).size;
    assert.ok(after < before + (8 << 20), `WAL grew from ${before} to ${after} bytes`);
    assert.equal((await s.get<{ n: number }>('SELECT COUNT(*) AS n FROM b'))?.n, i);
  } finally {
    await s.close();
  }
});

test('group commit: a member that ends the whole SQLite transaction fails its batch, unacknowledged, and later ones go on', async () => {
  const s = await openStore('sqlite::memory:');
  try {
    await s.run('CREATE TABLE l (id TEXT PRIMARY KEY)');
    const ins = (id: string) => s.tx(async (q) => { await q.run('INSERT INTO l (id) VALUES (?)', [id]); });
    const a = ins('a');
    const b = s.tx(async (q) => { await q.run('ROLLBACK'); }); // as SQLITE_FULL or IOERR would
    const [ra, rb] = await Promise.allSettled([a, b]);
    assert.equal(ra.status, 'rejected', 'a was never committed, so never acknowledged');
    assert.equal((ra as PromiseRejectedResult).reason.code, 'TX_LOST');
    assert.equal(rb.status, 'rejected');
    await ins('c');
    assert.deepEqual((await s.all<{ id: string }>('SELECT id FROM l ORDER BY id')).map((r) => r.id), ['c']);
  } finally {
    await s.close();
  }
});

test('changeStamp moves with every commit, by this connection or another, and with nothing else', async () => {
  const path = join(dir, 'stamp.db');
  const s = await openStore(`sqlite:${path}`) as SqliteStore;
  const other = await openStore(`sqlite:${path}`);
  try {
    await s.run('CREATE TABLE st (id INTEGER PRIMARY KEY)');
    const a = s.changeStamp();
    assert.equal(typeof a, 'string');
    await s.all('SELECT * FROM st');
    assert.equal(s.changeStamp(), a, 'a read changes nothing');
    await s.run('INSERT INTO st (id) VALUES (1)');
    const b = s.changeStamp();
    assert.notEqual(b, a, 'own autocommit write');
    let inside: string | undefined;
    await s.tx(async (q) => {
      await q.run('INSERT INTO st (id) VALUES (2)');
      inside = s.changeStamp();
    });
    assert.equal(inside, b, 'an uncommitted transaction does not move it');
    const c = s.changeStamp();
    assert.notEqual(c, b, 'own group commit');
    await other.run('INSERT INTO st (id) VALUES (3)');
    assert.notEqual(s.changeStamp(), c, "another connection's commit");
    assert.equal((await openStore('sqlite::memory:').then(async (m) => { const v = (m as SqliteStore).changeStamp(); await m.close(); return v; })), undefined, 'no stamp in memory');
  } finally {
    await other.close();
    await s.close();
  }
});
