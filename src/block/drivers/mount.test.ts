import assert from 'node:assert/strict';
import { constants, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isYunError } from '../../core/errors.ts';
import { isRoot, requireCapability } from '../../../test/helpers/capability.ts';
import { FileVolumeDriver } from './file/driver.ts';
import { growFilesystem, isMounted, loopDeviceAt, loopDirectIo, mountForContainer, prepareFilesystem, unmount } from './mount.ts';
import { Qcow2VolumeDriver } from './qcow2/driver.ts';

describe('volumes mounted for containers (loop devices)', () => {
  let root = '';
  const mnt = () => join(root, 'mnt');
  after(async () => {
    if (!root) return;
    if (await isMounted(mnt())) await unmount(mnt());
    await rm(root, { recursive: true, force: true });
  });

  it('mkfs on first attach, mount, data survives remount, grow after extend', async (t) => {
    if (!requireCapability(t, isRoot() && existsSync('/dev/loop-control'), 'needs root and loop devices')) return;
    root = await mkdtemp(join(tmpdir(), 'yun-vol-mount-'));
    const d = new FileVolumeDriver({ root: join(root, 'vols') });
    await d.create('vol-m', 64 / 1024);
    const att = await d.attachment('vol-m');
    assert.deepEqual(await prepareFilesystem(att, { label: 'vol-m' }), { fsType: 'ext4', created: true });
    await mountForContainer(att, mnt());
    assert.ok(await isMounted(mnt()));
    const dev = await loopDeviceAt(mnt());
    assert.match(dev ?? '', /^\/dev\/loop\d+$/, 'mounted through a loop device');
    // the backing file takes O_DIRECT here, so the loop device must not cache every block twice
    const odirect = await open(att.path, constants.O_RDONLY | constants.O_DIRECT).then(async (f) => { await f.close(); return true; }, () => false);
    if (odirect) assert.equal(await loopDirectIo(dev!), true, 'loop device switched to direct I/O');
    else t.diagnostic(`backing filesystem refuses O_DIRECT: loop device stays buffered`);
    await mountForContainer(att, mnt()); // no-op
    await writeFile(join(mnt(), 'hello.txt'), 'kept across mounts');
    await unmount(mnt());
    assert.equal(await isMounted(mnt()), false);
    await unmount(mnt()); // not mounted: succeeds
    assert.deepEqual(await prepareFilesystem(att), { fsType: 'ext4', created: false }, 'second attach never reformats');
    await mountForContainer(att, mnt(), { readOnly: true });
    assert.equal(await readFile(join(mnt(), 'hello.txt'), 'utf8'), 'kept across mounts');
    const before = await statfs(mnt());
    await unmount(mnt());
    await d.extend('vol-m', 128 / 1024);
    await growFilesystem(att);
    await mountForContainer(att, mnt());
    const grown = await statfs(mnt());
    assert.ok(grown.blocks * grown.bsize > before.blocks * before.bsize * 1.8, 'filesystem grew with the volume');
    assert.equal(await readFile(join(mnt(), 'hello.txt'), 'utf8'), 'kept across mounts');
    await unmount(mnt());
  });

  it('qcow2 volumes are refused for container mounts', async () => {
    const r = await mkdtemp(join(tmpdir(), 'yun-vol-q-'));
    try {
      const q = new Qcow2VolumeDriver({ root: r });
      const caps = await q.capabilities();
      assert.equal(caps.containerMount, false);
      await assert.rejects(prepareFilesystem({ path: join(r, 'x.qcow2'), format: 'qcow2' }), (e) => isYunError(e) && e.code === 'CapabilityMissing');
    } finally {
      await rm(r, { recursive: true, force: true });
    }
  });
});
