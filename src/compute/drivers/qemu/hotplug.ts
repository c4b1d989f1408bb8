import { createHash } from 'node:crypto';
import { type QemuDrive, blockdevArgs, deviceArgs, deviceId, nodeName } from './args.ts';
import { withQmp } from './qmp.ts';
import type { VolumeAttachment } from './types.ts';

/** QMP node names must start with a letter and stay under 32 chars: long or odd volume ids are hashed. */
export function volumeDrive(v: VolumeAttachment): QemuDrive {
  const plain = `v${v.volumeId}`;
  const name = /^[A-Za-z0-9_-]{1,26}$/.test(plain) ? plain : `v${createHash('sha256').update(v.volumeId).digest('hex').slice(0, 24)}`;
  return { name, path: v.path, format: v.format, readOnly: v.readOnly, serial: v.volumeId.slice(0, 20) };
}

/** blockdev-add + device_add virtio-blk-pci; the block node is removed again if the device cannot be added. */
export async function hotplugAdd(qmpSocket: string, d: QemuDrive): Promise<void> {
  await withQmp(qmpSocket, async (q) => {
    await q.execute('blockdev-add', blockdevArgs(d));
    try {
      await q.execute('device_add', deviceArgs(d));
    } catch (e) {
      await q.execute('blockdev-del', { 'node-name': nodeName(d) }).catch(() => undefined);
      throw e;
    }
  });
}

/**
 * device_del (an ACPI eject request the guest must honour), wait for QEMU's
 * DEVICE_DELETED, then blockdev-del. A device already gone is fine.
 */
export async function hotplugRemove(qmpSocket: string, d: QemuDrive, timeoutMs: number): Promise<void> {
  await withQmp(qmpSocket, async (q) => {
    const present = (await q.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' })).some((p) => p.name === deviceId(d));
    if (present) {
      const deleted = q.waitEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === deviceId(d), timeoutMs);
      await q.execute('device_del', { id: deviceId(d) });
      await deleted;
    }
    await q.execute('blockdev-del', { 'node-name': nodeName(d) }).catch(() => undefined);
  });
}

/** block_resize: qcow2 images are grown by QEMU itself; raw files must already have the size. */
export async function hotplugResize(qmpSocket: string, d: QemuDrive, sizeBytes: number): Promise<void> {
  await withQmp(qmpSocket, (q) => q.execute('block_resize', { 'node-name': nodeName(d), size: sizeBytes }, 60_000));
}
