/**
 * Volumes in container instances (oci driver, real crun, loop-mounted ext4
 * cloned into the container's mount namespace) through the REST API:
 * mounted live, online extend seen by df inside, snapshot of a mounted
 * volume (fsfreeze), data kept across instance delete and recreate, state
 * guards (in-use, mount path clash, qcow2 in a container, delete while
 * attached), and a cloud restart that leaves the mount alone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { YunClient } from '../../src/sdk/client.ts';
import { BlockApi } from '../../src/sdk/block.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type BlockCloud, startBlockCloud, waitFor } from './helpers.ts';

const hasTools = ['/usr/bin/crun', '/usr/bin/perl', '/usr/sbin/mkfs.ext4', '/usr/sbin/fsfreeze', '/usr/sbin/resize2fs'].every(existsSync);

describe('volumes in containers through the API', { timeout: 300_000 }, () => {
  let bc: BlockCloud;
  let c: YunClient;
  let b: BlockApi;
  let skip = '';
  const ok = (t: import('node:test').TestContext) => requireCapability(t, !skip, skip);
  const exec = async (name: string, command: string[]) => c.request<{ stdout: string; stderr: string; exitCode: number }>('POST', `/v1/instances/${name}/exec`, { body: { command } });
  const launch = async (name: string) => {
    await c.request('POST', '/v1/instances', { body: { name, spec: { image: 'busybox', cpus: 0.5, memoryMb: 64 } } });
    const r = await waitFor(c, 'instances', name, (x) => ['running', 'error'].includes(String(x.status.state)), 60_000);
    assert.equal(r.status.state, 'running', String(r.status.reason));
  };
  const gone = async (plural: string, name: string) => {
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      try { await c.resource(plural).get(name); } catch { return; }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${plural}/${name} still there`);
  };

  before(async () => {
    if (!isRoot()) { skip = 'needs root (loop mounts, crun)'; return; }
    if (!hasTools) { skip = 'needs crun, perl, e2fsprogs, util-linux (fsfreeze)'; return; }
    bc = await startBlockCloud({ accelerator: 'tcg' });
    c = bc.c;
    b = new BlockApi(c);
    await c.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' } } } });
    const r = await waitFor(c, 'images', 'busybox', (x) => ['available', 'error'].includes(String(x.status.state)), 120_000);
    if (r.status.state !== 'available') skip = `busybox image: ${String(r.status.reason)}`;
    else if (bc.compute.driver.name !== 'oci') skip = `container driver is ${bc.compute.driver.name}, not oci`;
  });

  after(async () => {
    await bc?.stop();
  });

  it('mounts a volume live, extends it online, snapshots it mounted, and keeps its data across instance delete/recreate', async (t) => {
    if (!ok(t)) return;
    await launch('app1');
    await b.volumes.create('data', { sizeGb: 0.125 });
    await b.waitVolume('data', 'available');
    await b.attach('data', 'app1', { mountPath: '/var/data' });
    const v = await b.waitVolume('data', 'in-use', 60_000);
    const hostMounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(hostMounts.includes(v.id), 'loop-mounted on the host while attached');
    assert.equal((await exec('app1', ['sh', '-c', 'echo keep-me > /var/data/note && sync && cat /var/data/note'])).stdout, 'keep-me\n');
    const df = async () => Number((await exec('app1', ['df', '-k', '/var/data'])).stdout.split('\n')[1]!.trim().split(/\s+/)[1]);
    const small = await df();
    await b.extend('data', 0.25);
    await waitFor(c, 'volumes', 'data', (x) => x.status.sizeGb === 0.25 && x.status.state === 'in-use', 60_000);
    let big = await df();
    const pending = (await b.volumes.get('data')).status.fsResizePending;
    if (pending) {
      t.diagnostic('no online ext4 resize on this host (CAP_SYS_RESOURCE missing?): grown offline at detach');
      await b.detach('data');
      await b.waitVolume('data', 'available', 60_000);
      assert.ok(!(await b.volumes.get('data')).status.fsResizePending);
      await b.attach('data', 'app1', { mountPath: '/var/data' });
      await b.waitVolume('data', 'in-use', 60_000);
      big = await df();
    }
    assert.ok(big > small * 1.8, `filesystem grew${pending ? '' : ' online'}: ${small} → ${big} KiB`);

    await b.snapshots.create('snap1', { volume: 'data' });
    await b.waitSnapshot('snap1');
    assert.equal((await exec('app1', ['sh', '-c', 'echo still-writable >> /var/data/note && echo ok'])).stdout, 'ok\n', 'thawed after the snapshot');

    // guards
    await launch('app2');
    await assert.rejects(b.attach('data', 'app2'), /in use by instance 'app1'/);
    await assert.rejects(b.volumes.delete('data'), /attached/);
    await b.volumes.create('qd', { sizeGb: 0.0625, type: 'qcow2' });
    await b.waitVolume('qd', 'available');
    await assert.rejects(b.attach('qd', 'app1'), /VMs only/);
    await b.volumes.create('other', { sizeGb: 0.0625 });
    await b.waitVolume('other', 'available');
    await assert.rejects(b.attach('other', 'app1', { mountPath: '/var/data' }), /already mounted at \/var\/data/);

    // the instance goes, the volume stays (and is unmounted from the host)
    await c.request('DELETE', '/v1/instances/app1');
    await gone('instances', 'app1');
    const freed = await b.waitVolume('data', 'available', 60_000);
    assert.ok(!(freed.spec as { attachment?: unknown }).attachment);
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(v.id), 'host mount released');
    await launch('app1');
    await b.attach('data', 'app1', { mountPath: '/var/data' });
    await b.waitVolume('data', 'in-use', 60_000);
    assert.equal((await exec('app1', ['cat', '/var/data/note'])).stdout, 'keep-me\nstill-writable\n');

    // a volume from the mounted snapshot holds the bytes of that moment
    await b.volumes.create('restored', { sizeGb: 0.25, fromSnapshot: 'snap1' });
    await b.waitVolume('restored', 'available');
    await b.attach('restored', 'app2', { mountPath: '/restored' });
    await b.waitVolume('restored', 'in-use', 60_000);
    assert.equal((await exec('app2', ['cat', '/restored/note'])).stdout, 'keep-me\n');
  });

  it('a restarted cloud leaves attached volumes mounted (no remount, same pid)', async (t) => {
    if (!ok(t)) return;
    const before = await b.volumes.get('data');
    const home = bc.home;
    await bc.stop({ keepWorkloads: true });
    bc = await startBlockCloud({ home, accelerator: 'tcg' });
    c = bc.c;
    b = new BlockApi(c);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await b.waitVolume('data', 'in-use');
    assert.deepEqual(after.status.attachment, before.status.attachment);
    assert.equal((await exec('app1', ['cat', '/var/data/note'])).stdout, 'keep-me\nstill-writable\n');
  });

  it('detaches and deletes everything; quotas return to zero', async (t) => {
    if (!ok(t)) return;
    for (const n of ['data', 'restored']) await b.detach(n);
    for (const n of ['data', 'restored']) await b.waitVolume(n, 'available', 60_000);
    assert.notEqual((await exec('app1', ['cat', '/var/data/note'])).exitCode, 0, 'unmounted inside');
    for (const n of ['app1', 'app2']) await c.request('DELETE', `/v1/instances/${n}`);
    for (const n of ['data', 'restored', 'qd', 'other']) await b.volumes.delete(n);
    await b.snapshots.delete('snap1');
    for (const n of ['data', 'restored', 'qd', 'other']) await gone('volumes', n);
    await gone('volume-snapshots', 'snap1');
    for (const n of ['app1', 'app2']) await gone('instances', n);
    const q = (await c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/quotas')).items;
    for (const k of ['volumes', 'volume_gb', 'snapshots', 'instances']) assert.equal(q.find((x) => x.resource === k)?.used, 0, k);
  });
});
