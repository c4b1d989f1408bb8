/** The volume pool: capacity × overcommit bounds the virtual GB handed out, across projects; refused with 409 before anything is made. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockApi } from '../../src/sdk/block.ts';
import { startBlockCloud } from './helpers.ts';

test('volume pool capacity and overcommit', { timeout: 60_000 }, async () => {
  const bc = await startBlockCloud({ compute: { driver: 'process', controller: false }, accelerator: 'tcg', pool: { capacityGb: 1, overcommit: 2 } });
  const b = new BlockApi(bc.c);
  try {
    let p = await bc.c.request<{ limitGb: number; allocatedGb: number; overcommit: number }>('GET', '/v1/volume-pool');
    assert.deepEqual([p.limitGb, p.allocatedGb, p.overcommit], [2, 0, 2]);
    await b.volumes.create('a', { sizeGb: 1.5 });
    await assert.rejects(b.volumes.create('b', { sizeGb: 1 }), /volume pool full/);
    await assert.rejects(b.volumes.get('b'), /not found/);
    await b.waitVolume('a', 'available');
    await assert.rejects(b.extend('a', 2.5), /volume pool full/);
    assert.equal((await b.volumes.get('a')).spec.sizeGb, 1.5, 'refused extend changed nothing');
    await b.extend('a', 2);
    p = await bc.c.request('GET', '/v1/volume-pool');
    assert.equal(p.allocatedGb, 2);
    const q = (await bc.c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/quotas')).items;
    assert.equal(q.find((x) => x.resource === 'volume_gb')?.used, 2, 'the refused create released nothing it had not taken');
  } finally {
    await bc.stop();
  }
});
