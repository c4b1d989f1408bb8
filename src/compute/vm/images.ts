/**
 * VM images for the image service: `tiny-vm` built here (Debian kernel +
 * busybox initramfs + a small base disk) and imported qcow2/raw disks
 * (cloud images with cloud-init NoCloud). Both land in `<imageDir>/rootfs/`
 * with the `image.json` the qemu driver reads, plus the `vm-image.json`
 * marker beside `rootfs/` that routes instances to the qemu driver.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildTinyVmImage, importDiskImage } from '../images/vm/index.ts';
import { type ImageInfo, hostArch } from '../images/types.ts';
import { VM_IMAGE_MARKER } from './router.ts';

export interface VmImageMarker {
  kind: 'tiny-vm' | 'disk';
  /** tiny-vm: the line its init prints when booted. */
  bootMarker?: string;
  format?: 'qcow2';
  virtualBytes?: number;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

async function mark(dir: string, m: VmImageMarker): Promise<void> {
  await writeFile(join(dir, VM_IMAGE_MARKER), JSON.stringify(m, null, 2));
}

/** Builds tiny-vm into `<dir>/rootfs`. Reuses a complete earlier build. */
export async function buildTinyVm(dir: string, opts: { cacheDir?: string } = {}): Promise<ImageInfo> {
  const rootfs = join(dir, 'rootfs');
  const img = await buildTinyVmImage(rootfs, opts);
  await mark(dir, { kind: 'tiny-vm', bootMarker: img.bootMarker });
  let size = 0;
  for (const p of [img.kernel, img.initrd, img.disk]) size += (await stat(p)).size;
  return { rootfs, sizeBytes: size, sha256: createHash('sha256').update(img.buildId).digest('hex'), os: 'linux', arch: hostArch() };
}

/**
 * Imports an uploaded qcow2 or raw disk (validated by qemu-img: format,
 * no backing file, `qemu-img check`) into `<dir>/rootfs`. Throws
 * `ValidationFailed` with the reason for anything else.
 */
export async function importVmDisk(dir: string, file: string): Promise<ImageInfo> {
  const rootfs = join(dir, 'rootfs');
  try {
    const sha256 = await sha256File(file);
    const d = await importDiskImage(file, { intoDir: rootfs });
    await mark(dir, { kind: 'disk', format: 'qcow2', virtualBytes: d.virtualBytes });
    return { rootfs, sizeBytes: d.actualBytes, sha256, os: 'linux', arch: hostArch() };
  } catch (e) {
    await rm(rootfs, { recursive: true, force: true });
    throw e;
  }
}

/** Image sources that make VM images (the rest are container rootfs images). */
export const isVmImageSource = (source: { build?: string; upload?: string }): boolean =>
  source.build === 'tiny-vm' || source.upload === 'disk';
