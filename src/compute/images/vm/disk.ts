import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { YunError, invalid } from '../../../core/errors.ts';
import { run } from './exec.ts';

export interface DiskImageInfo {
  path: string;
  format: 'qcow2' | 'raw';
  virtualBytes: number;
  actualBytes: number;
  /** qcow2 only: set when the image has a backing file (refused for import). */
  backingFile?: string;
}

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'format-specific'?: { data?: { corrupt?: boolean } };
}

/**
 * Validates a disk image with `qemu-img info --output=json` (never trusting
 * the file name) and, with `intoDir`, imports it: converted to a
 * self-contained qcow2 `intoDir/disk.qcow2` plus an `image.json` so the dir
 * can serve as a VM image (`WorkloadSpec.imageRootfs`), booted from disk.
 * Accepts qcow2 and raw only; refuses qcow2 with a backing file (it would
 * reach outside the image), corrupt qcow2, and empty images.
 */
export async function importDiskImage(path: string, opts: { intoDir?: string } = {}): Promise<DiskImageInfo> {
  await stat(path).catch(() => {
    throw invalid('/path', `disk image ${path} does not exist`);
  });
  const { stdout } = await run('qemu-img', ['info', '--output=json', path]);
  const info = JSON.parse(stdout) as QemuImgInfo;
  if (info.format !== 'qcow2' && info.format !== 'raw') throw invalid('/path', `disk image format '${info.format}' is not supported (qcow2 or raw)`);
  if (info['backing-filename']) throw invalid('/path', 'disk images with a backing file cannot be imported');
  if (info['format-specific']?.data?.corrupt) throw invalid('/path', 'qcow2 image is marked corrupt');
  if (!(info['virtual-size'] > 0)) throw invalid('/path', 'disk image is empty');
  if (info.format === 'qcow2') {
    try {
      await run('qemu-img', ['check', '-q', '-f', 'qcow2', path]);
    } catch (e) {
      throw new YunError('ValidationFailed', `qcow2 image fails qemu-img check: ${(e as Error).message}`, { field: '/path' });
    }
  }
  const result: DiskImageInfo = { path, format: info.format, virtualBytes: info['virtual-size'], actualBytes: info['actual-size'] ?? 0 };
  if (!opts.intoDir) return result;
  await mkdir(opts.intoDir, { recursive: true });
  const work = await mkdtemp(join(opts.intoDir, '.import-'));
  try {
    await run('qemu-img', ['convert', '-q', '-f', info.format, '-O', 'qcow2', path, join(work, 'disk.qcow2')], { timeoutMs: 3_600_000 });
    await rename(join(work, 'disk.qcow2'), join(opts.intoDir, 'disk.qcow2'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const disk = join(opts.intoDir, 'disk.qcow2');
  await writeFile(join(opts.intoDir, 'image.json'), JSON.stringify({ disk }, null, 2));
  const st = await stat(disk);
  return { path: disk, format: 'qcow2', virtualBytes: info['virtual-size'], actualBytes: st.blocks * 512 };
}
