/**
 * Block storage through the real `yun` binary and the REST API: volumes,
 * snapshots, volume from snapshot, extend, quotas, and the refusals (bad
 * sizes, shrinking, unknown snapshot or instance, type mismatch, quota).
 * No workloads here: attachment is covered by container.e2e.test.ts and
 * test/vm-service.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import { yunCli } from '../helpers/cli.ts';
import { BlockApi } from '../../src/sdk/block.ts';
import { startBlockCloud } from './helpers.ts';


test('yun volume and yun volume snapshot commands; API refusals; quotas', { timeout: 120_000 }, async () => {
  const bc = await startBlockCloud({ compute: { driver: 'process', controller: false }, accelerator: 'tcg' });
  const { yun, json } = yunCli({ endpoint: bc.tc.cloud.apiUrl, token: bc.c.token!, home: bc.home });
  const b = new BlockApi(bc.c);
  try {
    const v1 = await json('volume', 'create', 'data1', '--size', '1');
    assert.equal(v1.state, 'available');
    assert.equal(v1.sizeGb, 1);
    const file = (await bc.block.drivers.file.attachment(v1.id)).path;
    assert.equal((await stat(file)).size, 2 ** 30);
    assert.equal((await stat(file)).blocks, 0, 'sparse');
    const q = await json('volume', 'create', 'q1', '--size', '0.5', '--type', 'qcow2');
    assert.equal(q.format, 'qcow2');

    const s = await json('volume', 'snapshot', 'create', 'data1', '--name', 'before-upgrade');
    assert.equal(s.state, 'available');
    assert.equal(s.type, 'file');
    const v2 = await json('volume', 'create', 'data2', '--from-snapshot', 'before-upgrade');
    assert.equal(v2.sizeGb, 1);
    assert.equal(v2.fromSnapshot, 'before-upgrade');
    const ext = await json('volume', 'extend', 'data2', '--size', '2');
    assert.equal(ext.sizeGb, 2);
    let r = await yun('volume', 'extend', 'data2', '--size', '1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /only grow/);
    r = await yun('volume', 'list');
    assert.match(r.stdout, /data2\s+available\s+2\s+file/);
    r = await yun('volume', 'snapshot', 'list');
    assert.match(r.stdout, /before-upgrade\s+data1\s+available/);

    // refusals, each before anything is made
    await assert.rejects(b.volumes.create('zero', { sizeGb: 0 }), /sizeGb|must be/);
    await assert.rejects(b.volumes.create('nosnap', { sizeGb: 1, fromSnapshot: 'nope' }), /snapshot 'nope' not found/);
    await assert.rejects(b.volumes.create('mismatch', { sizeGb: 1, type: 'qcow2', fromSnapshot: 'before-upgrade' }), /file volume/);
    await assert.rejects(b.volumes.create('small', { sizeGb: 0.5, fromSnapshot: 'before-upgrade' }), /at least 1 GB/);
    await assert.rejects(b.attach('data1', 'no-such-instance'), /not found/);
    await assert.rejects(b.detach('data1'), /not attached/);
    await assert.rejects(b.volumes.update('data1', { spec: { sizeGb: 5 } }), /extend/);
    r = await yun('volume', 'create', 'huge', '--size', '600');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /QuotaExceeded/);
    await assert.rejects(b.volumes.get('huge'), /not found/);
    const quota = async () => (await bc.c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/quotas')).items;
    const used = async (k: string) => (await quota()).find((x) => x.resource === k)?.used;
    assert.equal(await used('volumes'), 3);
    assert.equal(await used('volume_gb'), 1 + 1 + 2);
    assert.equal(await used('snapshots'), 1);

    // a snapshot outlives its volume, and a volume made from it its snapshot
    assert.equal((await yun('volume', 'delete', 'data1')).code, 0);
    assert.equal((await yun('volume', 'snapshot', 'delete', 'before-upgrade')).code, 0);
    for (const n of ['q1', 'data2']) assert.equal((await yun('volume', 'delete', n)).code, 0);
    const end = Date.now() + 20_000;
    while (((await b.volumes.listAll()).length || (await b.snapshots.listAll()).length) && Date.now() < end) await new Promise((res) => setTimeout(res, 200));
    assert.equal((await b.volumes.listAll()).length, 0);
    await assert.rejects(stat(file), /ENOENT/);
    for (const k of ['volumes', 'volume_gb', 'snapshots']) assert.equal(await used(k), 0, k);
  } finally {
    await bc.stop();
  }
});
