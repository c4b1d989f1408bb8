import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../store/index.ts';
import { coreMigrations, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { ListCache } from './list-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'yun-listcache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const names = (json: string) => (JSON.parse(json) as { items: Array<{ name: string; spec: { n: number } }> }).items.map((r) => `${r.name}:${r.spec.n}`);

test('list cache: a page is reused until any resource changes, here or through another connection', async () => {
  const path = join(dir, 'state.db');
  const s = await openStore(`sqlite:${path}`);
  const other = await openStore(`sqlite:${path}`); // another process or replica writing the same file
  try {
    await s.migrate(coreMigrations);
    const cache = ListCache.forStore(s)!;
    assert.equal(ListCache.forStore(s), cache, 'one cache per store');
    let builds = 0;
    const page = (store: StateStore = s) => cache.json('k', async () => {
      builds++;
      return { items: (await new Resources(store).list('thing', 'p')).items };
    });
    const r = new Resources(s);
    const a = await r.create({ kind: 'thing', project: 'p', name: 'a', spec: { n: 1 }, idPrefix: 't' });
    assert.deepEqual(names(await page()), ['a:1']);
    assert.deepEqual(names(await page()), ['a:1']);
    assert.equal(builds, 1, 'the second list came from the cache');

    await r.updateSpec(a, { spec: { n: 2 } });
    assert.deepEqual(names(await page()), ['a:2'], 'an update is seen at once');
    await new Resources(other).create({ kind: 'thing', project: 'p', name: 'b', spec: { n: 1 }, idPrefix: 't' });
    assert.deepEqual(names(await page()), ['a:2', 'b:1'], "another connection's create is seen at once");
    await s.tx(async (q) => {
      await new Resources(q).create({ kind: 'thing', project: 'p', name: 'c', spec: { n: 1 }, idPrefix: 't' });
      throw new Error('rolled back');
    }).catch(() => undefined);
    const before = builds;
    assert.deepEqual(names(await page()), ['a:2', 'b:1'], 'a rolled-back write changes nothing');
    assert.equal(builds, before, 'and leaves the cached page valid');
    await s.run('CREATE TABLE unrelated (x INTEGER)');
    await other.run('INSERT INTO unrelated (x) VALUES (1)');
    assert.deepEqual(names(await page()), ['a:2', 'b:1']);
    assert.equal(builds, before, 'commits to other tables leave the page valid');
    await r.delete((await r.get('thing', 'p', 'a'))!);
    assert.deepEqual(names(await page()), ['b:1'], 'a delete is seen at once');

    // A write that lands while a page is being built leaves that page stale, never cached as current.
    let racing = true;
    const raced = await cache.json('race', async () => {
      const items = (await new Resources(s).list('thing', 'p')).items;
      if (racing) await new Resources(s).create({ kind: 'thing', project: 'p', name: 'd', spec: { n: 1 }, idPrefix: 't' });
      racing = false;
      return { items };
    });
    assert.deepEqual(names(raced), ['b:1']);
    assert.deepEqual(names(await cache.json('race', async () => ({ items: (await new Resources(s).list('thing', 'p')).items }))), ['b:1', 'd:1']);
  } finally {
    await other.close();
    await s.close();
  }
});

test('list cache: none for PostgreSQL, whose sequence numbers are not in commit order', () => {
  assert.equal(ListCache.forStore({ dialect: 'postgres' } as StateStore), undefined);
});

test('list cache: bounded in bytes, oldest pages go first, big pages are not kept', async () => {
  const s = await openStore('sqlite::memory:');
  try {
    await s.migrate(coreMigrations);
    const cache = ListCache.forStore(s, 1000)!;
    const built: string[] = [];
    const page = (key: string, size = 230) => cache.json(key, async () => { built.push(key); return { pad: 'x'.repeat(size) }; });
    for (const k of ['a', 'b', 'c', 'd']) await page(k); // 4 × 240 bytes fit in 1000
    await page('a'); // a is now the most recently used
    await page('e'); // over 1000: b, the least recently used, goes
    await page('a');
    await page('c');
    await page('b');
    assert.deepEqual(built, ['a', 'b', 'c', 'd', 'e', 'b']);
    await page('big', 300); // more than a quarter of the budget
    await page('big', 300);
    assert.deepEqual(built.slice(6), ['big', 'big'], 'a big page is never kept');
  } finally {
    await s.close();
  }
});
