import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isYunError } from '../core/errors.ts';
import { collateC, openStore } from './index.ts';

test('openStore: sqlite URLs, absolute paths only, parent directories created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yun-open-'));
  try {
    for (const url of [`sqlite:${dir}/a/b/one.db`, `sqlite://${dir}/two.db`, 'sqlite::memory:']) {
      const s = await openStore(url);
      assert.equal(s.dialect, 'sqlite');
      assert.equal(s.collateC, '');
      await s.run('CREATE TABLE t (x INTEGER)');
      await s.close();
    }
    const again = await openStore(`sqlite:${dir}/a/b/one.db`);
    assert.equal((await again.get<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'"))?.n, 1);
    assert.equal((await again.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode, 'wal');
    assert.equal((await again.get<{ foreign_keys: number }>('PRAGMA foreign_keys'))?.foreign_keys, 1);
    assert.equal((await again.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous, 2, 'FULL');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openStore refuses relative paths and unknown schemes with ValidationFailed', async () => {
  for (const url of ['sqlite:relative.db', 'mysql://x@y/z', '/abs/path.db']) {
    await assert.rejects(openStore(url), (e) => isYunError(e) && e.code === 'ValidationFailed', url);
  }
  await assert.rejects(openStore('mysql://user:secret@h/db'), (e) => !(e as Error).message.includes('secret'));
});

test('collateC by dialect', () => {
  assert.equal(collateC('postgres'), ' COLLATE "C"');
  assert.equal(collateC('sqlite'), '');
});
