/**
 * A Node.js image from the host's node binary plus exactly the shared
 * libraries `ldd` reports (and the dynamic loader), at the same paths.
 * Busybox is added too (unless `withBusybox: false`) so the image has
 * /bin/sh for user-data and debugging.
 */
import { copyFile, chmod, mkdir, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runOk } from '../drivers/host.ts';
import { buildBusyboxImage, buildInto } from './busybox.ts';
import { writeBaseFiles } from './base.ts';
import type { ImageInfo } from './types.ts';

export interface NodeImageOptions {
  /** node binary, default the one running this process. */
  node?: string;
  withBusybox?: boolean;
  busybox?: string;
}

/** Absolute library paths from `ldd` output (skips the vdso). */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

export async function buildNodeImage(dir: string, opts: NodeImageOptions = {}): Promise<ImageInfo> {
  const node = await realpath(opts.node ?? process.execPath);
  const libs = parseLdd(await runOk('ldd', [node]));
  const fill = async (rootfs: string) => {
    await writeBaseFiles(rootfs);
    await copyFile(node, join(rootfs, 'usr/bin/node'));
    await chmod(join(rootfs, 'usr/bin/node'), 0o755);
    for (const lib of libs) {
      // Copy the real file's bytes to the path the loader will look up.
      const dest = join(rootfs, lib);
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(await realpath(lib), dest);
      await chmod(dest, 0o755);
    }
  };
  if (opts.withBusybox === false) return buildInto(dir, fill);
  // Start from a busybox rootfs, then add node on top.
  const bb = await buildBusyboxImage(join(dir, '.busybox-base'), { busybox: opts.busybox });
  return buildInto(dir, async (rootfs) => {
    await runOk('cp', ['-a', `${bb.rootfs}/.`, `${rootfs}/`]);
    await runOk('rm', ['-rf', join(dir, '.busybox-base')]);
    await fill(rootfs);
  });
}
