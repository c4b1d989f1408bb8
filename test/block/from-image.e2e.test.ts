/**
 * Volumes from images through the API on a real cloud: a container image's
 * files on an ext4 volume mounted in a crun container, a VM image's disk
 * converted into raw and qcow2 volumes (byte-for-byte the same disk, as
 * `qemu-img compare` says), and the errors: unknown image, a volume smaller
 * than the image's disk.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BlockApi } from '../../src/sdk/block.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type BlockCloud, startBlockCloud, waitFor } from './helpers.ts';

const run = promisify(execFile);
const hasTools = ['/usr/bin/qemu-img', '/usr/bin/crun', '/usr/sbin/mkfs.ext4'].every(existsSync) || ['/usr/bin/qemu-img', '/usr/bin/crun', '/sbin/mkfs.ext4'].every(existsSync);

describe('volumes from images', { timeout: 600_000 }, () => {
  let bc: BlockCloud;
  let b: BlockApi;
  let skip = '';
  const ok = (t: import('node:test').TestContext) => requireCapability(t, !skip, skip);

  before(async () => {
    if (!isRoot()) { skip = 'needs root (loop mounts, crun)'; return; }
    if (!hasTools) { skip = 'needs qemu-utils, crun, e2fsprogs'; return; }
    bc = await startBlockCloud();
    b = new BlockApi(bc.c);
    for (const [name, build] of [['busybox', 'busybox'], ['tiny-vm', 'tiny-vm']]) {
      await bc.c.request('POST', '/v1/images', { body: { name, spec: { source: { build } } } });
    }
    for (const n of ['busybox', 'tiny-vm']) {
      const r = await waitFor(bc.c, 'images', n, (x) => ['available', 'error'].includes(String(x.status.state)), 300_000);
      if (r.status.state !== 'available') skip = `image ${n} cannot be built here: ${String(r.status.reason)}`;
    }
  });

  after(async () => {
    await bc?.stop();
  });

  it('refuses an unknown image, naming the field', async (t) => {
    if (!ok(t)) return;
    await assert.rejects(b.volumes.create('nope', { sizeGb: 1, fromImage: 'no-such-image' }), (e: Error & { status?: number; problem?: { field?: string } }) =>
      e.status === 400 && /fromImage/.test(JSON.stringify(e.problem ?? e.message)));
    await assert.rejects(b.volumes.create('both', { sizeGb: 1, fromImage: 'busybox', fromSnapshot: 'x' }), /fromSnapshot|fromImage/);
  });

  it('a container image becomes an ext4 volume holding its files, mounted in a container', async (t) => {
    if (!ok(t)) return;
    await b.volumes.create('bbfiles', { sizeGb: 0.0625, fromImage: 'busybox' });
    const v = await b.waitVolume('bbfiles', 'available');
    assert.equal(v.status.state, 'available', String(v.status.reason));
    assert.equal(v.status.filledFromImage, true);
    await bc.c.request('POST', '/v1/instances', { body: { name: 'c1', spec: { image: 'busybox', cpus: 0.5, memoryMb: 64 } } });
    assert.equal((await waitFor(bc.c, 'instances', 'c1', (x) => ['running', 'error'].includes(String(x.status.state)), 60_000)).status.state, 'running');
    await b.attach('bbfiles', 'c1', { mountPath: '/img' });
    await b.waitVolume('bbfiles', 'in-use', 60_000);
    const r = await bc.c.request<{ stdout: string; exitCode: number }>('POST', '/v1/instances/c1/exec', { body: { command: ['/img/bin/busybox', 'echo', 'runs-from-the-volume'] } });
    assert.equal(r.stdout, 'runs-from-the-volume\n');
    await b.detach('bbfiles');
    await b.waitVolume('bbfiles', 'available', 60_000);
  });

  it('a VM image\'s disk is converted into raw and qcow2 volumes, identical to the image disk', async (t) => {
    if (!ok(t)) return;
    const img = await bc.c.resource('images').get('tiny-vm');
    const manifest = JSON.parse(await readFile(join(bc.home, 'images', (img as unknown as { id: string }).id, 'rootfs', 'image.json'), 'utf8')) as { disk: string };
    for (const type of ['file', 'qcow2'] as const) {
      const name = `vmdisk-${type}`;
      await b.volumes.create(name, { sizeGb: 0.0625, type, fromImage: 'tiny-vm' });
      const v = await b.waitVolume(name, 'available');
      assert.equal(v.status.state, 'available', String(v.status.reason));
      const path = (await bc.block.drivers[type].attachment(v.id as string)).path;
      const cmp = await run('qemu-img', ['compare', manifest.disk, path]);
      assert.match(cmp.stdout, /Images are identical/);
    }
  });

  it('a volume smaller than the image disk ends in error with the reason', async (t) => {
    if (!ok(t)) return;
    await b.volumes.create('small', { sizeGb: 0.03, fromImage: 'tiny-vm' });
    const v = await waitFor(bc.c, 'volumes', 'small', (x) => ['available', 'error'].includes(String(x.status.state)), 60_000);
    assert.equal(v.status.state, 'error');
    assert.match(String(v.status.reason), /disk is 0\.0[67] GB.*at least/);
    for (const n of ['small', 'vmdisk-file', 'vmdisk-qcow2', 'bbfiles']) await b.volumes.delete(n);
  });
});
