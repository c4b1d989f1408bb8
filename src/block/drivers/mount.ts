/**
 * Volumes for containers: a raw volume carries an ext4 filesystem and is
 * loop-mounted (`mount -o loop`) on the host; the container runtime then
 * bind-mounts that directory into the container. Needs root and loop
 * devices. qcow2 volumes cannot be loop-mounted (they would need qemu-nbd)
 * and are refused with `CapabilityMissing`.
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

/** Whether something is mounted exactly at `mountpoint` (from /proc/self/mountinfo). */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const target = resolve(mountpoint);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  // field 5 is the mount point, with spaces etc. octal-escaped
  return info.split('\n').some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === target);
}

/**
 * Loop-mounts the volume's filesystem at `mountpoint` (created if needed).
 * Mounting where it is already mounted is a no-op. The loop device is
 * released automatically on unmount (`mount -o loop` sets autoclear).
 */
export async function mountForContainer(v: VolumeAttachmentInfo, mountpoint: string, opts: { readOnly?: boolean } = {}): Promise<void> {
  requireRaw(v);
  if (!mountpoint.startsWith('/')) throw invalid('/mountpoint', 'mountpoint must be absolute');
  await mkdir(mountpoint, { recursive: true });
  if (await isMounted(mountpoint)) return;
  const fsType = await filesystemType(v);
  if (!fsType) throw new YunError('InvalidState', 'volume has no filesystem; call prepareFilesystem first');
  await runTool('mount', ['-t', fsType, '-o', opts.readOnly ? 'loop,ro,nodev,nosuid' : 'loop,nodev,nosuid', v.path, mountpoint]);
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
