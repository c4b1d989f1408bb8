/**
 * Volumes from images (`spec.fromImage`): the volume is filled once, right
 * after the driver made it blank, and before it is ever `available`.
 *
 * - A VM image (its directory holds `vm-image.json`): the image's base disk
 *   (qcow2 or raw) is converted into the volume with `qemu-img convert -n`,
 *   so the volume boots or mounts like the image's own root disk.
 * - A container image (a rootfs directory): the volume gets an ext4
 *   filesystem holding the image's files (`mkfs.ext4 -d`), ready to mount in
 *   a container or a VM.
 *
 * Both overwrite the whole volume, so a fill interrupted by a crash is simply
 * done again (the controller marks the volume filled only afterwards).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { YunError } from '../core/errors.ts';
import { isVmImageRootfs } from '../compute/vm/router.ts';
import { runTool } from './drivers/common.ts';
import type { VolumeAttachmentInfo } from './drivers/types.ts';

const fail = (message: string, field = '/spec/fromImage') => new YunError('ValidationFailed', message, { field });

async function readJson<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The base disk of a VM image directory, or undefined for a container image. Throws for a VM image without a disk. */
export async function vmImageDisk(imageRootfs: string): Promise<string | undefined> {
  if (!isVmImageRootfs(imageRootfs)) return undefined;
  const m = await readJson<{ disk?: string }>(join(imageRootfs, 'image.json'));
  if (!m?.disk) throw fail('this VM image has no disk (kernel and initrd only)');
  return isAbsolute(m.disk) ? m.disk : resolve(imageRootfs, m.disk);
}

async function virtualBytes(disk: string): Promise<number> {
  const info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', disk])) as { 'virtual-size': number };
  return info['virtual-size'];
}

/** Writes the image into the (blank, `sizeBytes` large) volume at `target`. */
export async function fillFromImage(target: VolumeAttachmentInfo, imageRootfs: string, sizeBytes: number): Promise<void> {
  if (!existsSync(imageRootfs)) throw fail('the image has no content on this host');
  const disk = await vmImageDisk(imageRootfs);
  if (disk) {
    const need = await virtualBytes(disk);
    if (need > sizeBytes) throw fail(`the image's disk is ${Math.ceil(need / 2 ** 30 * 100) / 100} GB: make the volume at least that large`, '/spec/sizeGb');
    await runTool('qemu-img', ['convert', '-n', '-O', target.format, disk, target.path]);
    return;
  }
  // A container image: an ext4 filesystem holding its files.
  const mkfs = (dev: string) => runTool('mkfs.ext4', ['-q', '-F', '-L', 'yun-image', '-d', imageRootfs, dev]).catch((e: Error) => {
    throw fail(`the image's files do not fit or cannot be copied: ${e.message.slice(0, 300)}`, '/spec/sizeGb');
  });
  if (target.format === 'raw') {
    await mkfs(target.path);
    return;
  }
  const work = await mkdtemp(join(dirname(target.path), '.fill-'));
  try {
    const raw = join(work, 'fs.raw');
    await writeFile(raw, '');
    await truncate(raw, sizeBytes);
    await mkfs(raw);
    await runTool('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'qcow2', raw, target.path]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
