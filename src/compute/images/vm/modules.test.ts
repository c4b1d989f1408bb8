import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isYunError } from '../../../core/errors.ts';
import { parseDepends, resolveModules } from './modules.ts';

const ko = (deps: string) => Buffer.concat([Buffer.from('\x7fELF junk\0license=GPL\0'), Buffer.from(`depends=${deps}\0`), Buffer.from('vermagic=6.1\0')]);

describe('kernel module resolution', () => {
  it('reads depends= from modinfo strings', () => {
    assert.deepEqual(parseDepends(ko('virtio,virtio_ring')), ['virtio', 'virtio_ring']);
    assert.deepEqual(parseDepends(ko('')), []);
    assert.deepEqual(parseDepends(Buffer.from('no modinfo here')), []);
  });

  it('orders dependencies first, once each, and fails on unknown modules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'yun-mods-'));
    try {
      await mkdir(join(dir, 'kernel/drivers/virtio'), { recursive: true });
      await mkdir(join(dir, 'kernel/drivers/block'), { recursive: true });
      await writeFile(join(dir, 'kernel/drivers/virtio/virtio_ring.ko'), ko(''));
      await writeFile(join(dir, 'kernel/drivers/virtio/virtio.ko'), ko('virtio_ring'));
      await writeFile(join(dir, 'kernel/drivers/virtio/virtio_pci.ko'), ko('virtio_ring,virtio'));
      await writeFile(join(dir, 'kernel/drivers/block/virtio-blk.ko'), ko('virtio,virtio_ring'));
      assert.deepEqual(await resolveModules(dir, ['virtio_pci', 'virtio_blk']), [
        'kernel/drivers/virtio/virtio_ring.ko',
        'kernel/drivers/virtio/virtio.ko',
        'kernel/drivers/virtio/virtio_pci.ko',
        'kernel/drivers/block/virtio-blk.ko',
      ]);
      await assert.rejects(resolveModules(dir, ['nope']), (e) => isYunError(e) && /nope/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
