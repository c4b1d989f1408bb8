/**
 * A busybox image from the host's static busybox (Debian `busybox-static`):
 * /bin/busybox plus one symlink per applet (what `busybox --install -s`
 * does), a minimal /etc. Builds in a temporary directory and renames, so a
 * failed build leaves nothing.
 */
import { copyFile, chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { YunError } from '../../core/errors.ts';
import { runOk } from '../drivers/host.ts';
import { writeBaseFiles } from './base.ts';
import { treeDigest } from './digest.ts';
import { type ImageInfo, hostArch } from './types.ts';

export interface BusyboxImageOptions {
  /** Static busybox binary to use. Default /bin/busybox. */
  busybox?: string;
}

export async function buildBusyboxImage(dir: string, opts: BusyboxImageOptions = {}): Promise<ImageInfo> {
  const busybox = opts.busybox ?? '/bin/busybox';
  const fileInfo = await runOk('file', ['-b', '-L', busybox]).catch(() => '');
  if (fileInfo && !/statically linked|static-pie/.test(fileInfo))
    throw new YunError('CapabilityMissing', `${busybox} is not statically linked (apt-get install busybox-static)`);
  const applets = (await runOk(busybox, ['--list-full'])).split('\n').filter(Boolean);
  return buildInto(dir, async (rootfs) => {
    await writeBaseFiles(rootfs);
    await copyFile(busybox, join(rootfs, 'bin/busybox'));
    await chmod(join(rootfs, 'bin/busybox'), 0o755);
    for (const a of applets) {
      if (a.includes('..') || a.startsWith('/')) continue;
      const link = join(rootfs, a);
      if (link === join(rootfs, 'bin/busybox')) continue;
      await mkdir(dirname(link), { recursive: true });
      await symlink(relative(dirname(link), join(rootfs, 'bin/busybox')), link).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
  });
}

/** Build a rootfs with `fill` in `<dir>/rootfs.tmp`, then move it to `<dir>/rootfs` and describe it. */
export async function buildInto(dir: string, fill: (rootfs: string) => Promise<void>, os = 'linux', arch = hostArch()): Promise<ImageInfo> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `rootfs.tmp-${process.pid}-${Date.now()}`);
  const rootfs = join(dir, 'rootfs');
  try {
    await mkdir(tmp, { mode: 0o755 });
    await fill(tmp);
    await rm(rootfs, { recursive: true, force: true });
    await rename(tmp, rootfs);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const { sha256, sizeBytes } = await treeDigest(rootfs);
  const info: ImageInfo = { rootfs, sizeBytes, sha256, os, arch };
  await writeFile(join(dir, 'image.json'), JSON.stringify(info, null, 1));
  return info;
}
