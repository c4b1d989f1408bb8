import { chmod, lstat, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InjectedFile } from './types.ts';

/**
 * Write files into the rootfs. Parent directories that are symlinks inside
 * the image are refused (a hostile image could point them at the host).
 */
export async function injectFiles(rootfs: string, files: InjectedFile[]): Promise<void> {
  for (const f of files) {
    const target = join(rootfs, f.path);
    let dir = rootfs;
    for (const part of dirname(f.path).split('/').filter(Boolean)) {
      dir = join(dir, part);
      const st = await lstat(dir).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new Error(`cannot inject ${f.path}: ${dir} is a symlink`);
      if (!st) await mkdir(dir, { mode: 0o755 });
    }
    const st = await lstat(target).catch(() => undefined);
    if (st?.isSymbolicLink()) throw new Error(`cannot inject ${f.path}: it is a symlink in the image`);
    await writeFile(target, f.content, { mode: f.mode ?? 0o644 });
    await chmod(target, f.mode ?? 0o644);
  }
}
