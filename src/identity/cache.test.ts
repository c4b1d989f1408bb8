import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShortCache } from './cache.ts';

test('hits within the TTL, reloads after it, clear() drops everything, misses are not kept', async () => {
  let now = 0;
  let loads = 0;
  const c = new ShortCache(1000, 100, () => now);
  const load = async () => { loads++; return 'v'; };
  assert.equal(await c.get('k', load), 'v');
  assert.equal(await c.get('k', load), 'v');
  assert.equal(loads, 1);
  now = 1500;
  await c.get('k', load);
  assert.equal(loads, 2);
  c.clear();
  await c.get('k', load);
  assert.equal(loads, 3);
  let missLoads = 0;
  await c.get('m', async () => { missLoads++; return undefined; });
  await c.get('m', async () => { missLoads++; return undefined; });
  assert.equal(missLoads, 2);
});
