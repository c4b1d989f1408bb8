import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runStoreContract } from '../contract.test-suite.ts';
import { openStore } from '../index.ts';

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
