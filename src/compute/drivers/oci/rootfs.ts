/**
 * A workload's writable root: an overlay mount (image rootfs as the read-only
 * lower layer, the workload's own upper layer) where the kernel offers
 * overlayfs, else a full copy of the image.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runOk } from '../host.ts';

export async function overlaySupported(): Promise<boolean> {
  try {
    return /\toverlay$/m.test(await readFile('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** overlay's mount option parser splits on `,` and `:`; such paths force a copy. */
const overlaySafe = (p: string) => !/[,:\\\s]/.test(p);

export interface RootfsLayout {
  /** The directory the container sees as `/`. */
  rootfs: string;
  upper: string;
  work: string;
}

export async function isMounted(target: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === target);
}

/**
 * Make `l.rootfs` ready: mount the overlay (also after a host reboot lost
 * it) or copy the image once. Returns the method used.
 */
export async function prepareRootfs(image: string, l: RootfsLayout, mode: 'overlay' | 'copy'): Promise<void> {
  await mkdir(l.rootfs, { recursive: true });
  if (mode === 'overlay' && overlaySafe(image) && overlaySafe(l.upper)) {
    await mkdir(l.upper, { recursive: true });
    await mkdir(l.work, { recursive: true });
    if (await isMounted(l.rootfs)) return;
    await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${l.upper},workdir=${l.work}`, l.rootfs]);
    return;
  }
  if (!existsSync(join(l.rootfs, '.yun-copied'))) {
    await runOk('cp', ['-a', '--reflink=auto', `${image}/.`, `${l.rootfs}/`]);
    await writeFile(join(l.rootfs, '.yun-copied'), '');
  }
}

export async function unmountRootfs(rootfs: string): Promise<void> {
  if (!(await isMounted(rootfs))) return;
  const r = await run('umount', [rootfs]);
  if (r.code !== 0) await runOk('umount', ['-l', rootfs]);
}

