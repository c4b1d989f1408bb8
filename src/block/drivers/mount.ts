/**
 * Volumes for containers: a raw volume carries an ext4 filesystem and is
 * loop-mounted (`mount -o loop`) on the host; the container runtime then
 * bind-mounts that directory into the container. Needs root and loop
 * devices. qcow2 volumes cannot be loop-mounted (they would need qemu-nbd)
 * and are refused with `CapabilityMissing`.
 *
 * The loop device is switched to direct I/O on its backing file
 * (`losetup --direct-io=on`): a buffered loop device caches every block
 * twice (the filesystem's pages and the backing file's pages) and pushes
 * writes through one worker and the host's writeback, which cost ~3x on
 * fsync'd sequential writes (`bench/vm/volume.ts`). Where the backing
 * filesystem refuses O_DIRECT (or its sector size does not fit), the device
 * stays buffered: slower, still correct.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { YunError, invalid } from '../../core/errors.ts';
import { runTool } from './common.ts';
import type { VolumeAttachmentInfo } from './types.ts';

function requireRaw(v: VolumeAttachmentInfo): void {
  if (v.format !== 'raw') {
    throw new YunError('CapabilityMissing', `only raw volumes can be mounted for containers (this one is ${v.format})`);
  }
}

/** Filesystem type on the volume (`ext4`, ...) or undefined when blank. */
export async function filesystemType(v: VolumeAttachmentInfo): Promise<string | undefined> {
  try {
    const out = await runTool('blkid', ['-p', '-o', 'value', '-s', 'TYPE', v.path]);
    return out.trim() || undefined;
  } catch (e) {
    // blkid exits 2 when it finds no signature
    if ((e as { cause?: { code?: unknown } }).cause?.code === 2) return undefined;
    throw e;
  }
}

/**
 * Makes sure the volume carries a filesystem: mkfs.ext4 on a blank volume
 * (first attach), nothing when one is already there (data is never
 * overwritten). Returns the type and whether it was just made.
 */
export async function prepareFilesystem(v: VolumeAttachmentInfo, opts: { label?: string } = {}): Promise<{ fsType: string; created: boolean }> {
  requireRaw(v);
  const existing = await filesystemType(v);
  if (existing) return { fsType: existing, created: false };
  const args = ['-q', '-F', '-m', '0'];
  if (opts.label) args.push('-L', opts.label.slice(0, 16));
  await runTool('mkfs.ext4', [...args, v.path]);
  return { fsType: 'ext4', created: true };
}

/** The mountinfo line of what is mounted exactly at `mountpoint` (the last one: the top of a stack). */
async function mountLine(mountpoint: string): Promise<string | undefined> {
  const target = resolve(mountpoint);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  // field 5 is the mount point, with spaces etc. octal-escaped
  return info.split('\n').filter((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === target).pop();
}

/** Whether something is mounted exactly at `mountpoint` (from /proc/self/mountinfo). */
export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountLine(mountpoint)) !== undefined;
}

/** The loop device (`/dev/loopN`) mounted at `mountpoint`, or undefined (nothing mounted, or not a loop device). */
export async function loopDeviceAt(mountpoint: string): Promise<string | undefined> {
  const line = await mountLine(mountpoint);
  // after the ' - ' separator: fstype, mount source, super options
  const source = line?.split(' - ')[1]?.split(' ')[1];
  return source && /^\/dev\/loop\d+$/.test(source) ? source : undefined;
}

/** Whether the loop device does direct I/O on its backing file (sysfs `loop/dio`). */
export async function loopDirectIo(dev: string): Promise<boolean> {
  const name = dev.replace(/^\/dev\//, '');
  return (await readFile(`/sys/block/${name}/loop/dio`, 'utf8').catch(() => '0')).trim() === '1';
}

/**
 * Loop-mounts the volume's filesystem at `mountpoint` (created if needed)
 * and switches the loop device to direct I/O where the backing filesystem
 * allows it. Mounting where it is already mounted is a no-op. The loop
 * device is released automatically on unmount (`mount -o loop` sets
 * autoclear, which is why the device is not set up with losetup first).
 */
export async function mountForContainer(v: VolumeAttachmentInfo, mountpoint: string, opts: { readOnly?: boolean } = {}): Promise<void> {
  requireRaw(v);
  if (!mountpoint.startsWith('/')) throw invalid('/mountpoint', 'mountpoint must be absolute');
  await mkdir(mountpoint, { recursive: true });
  if (await isMounted(mountpoint)) return;
  const fsType = await filesystemType(v);
  if (!fsType) throw new YunError('InvalidState', 'volume has no filesystem; call prepareFilesystem first');
  await runTool('mount', ['-t', fsType, '-o', opts.readOnly ? 'loop,ro,nodev,nosuid' : 'loop,nodev,nosuid', v.path, mountpoint]);
  const dev = await loopDeviceAt(mountpoint);
  // LOOP_SET_DIRECT_IO on a live device is safe (the kernel flushes and freezes the queue); EINVAL: stays buffered
  if (dev && !(await loopDirectIo(dev))) await runTool('losetup', ['--direct-io=on', dev]).catch(() => undefined);
}

/** Unmounts (and so frees the loop device). Unmounting what is not mounted succeeds. */
export async function unmount(mountpoint: string): Promise<void> {
  if (!(await isMounted(mountpoint))) return;
  await runTool('umount', [mountpoint]);
}

/** Grows an unmounted volume's ext4 filesystem to fill the volume (after `extend`). */
export async function growFilesystem(v: VolumeAttachmentInfo): Promise<void> {
  requireRaw(v);
  await runTool('e2fsck', ['-f', '-p', v.path]);
  await runTool('resize2fs', [v.path]);
}
