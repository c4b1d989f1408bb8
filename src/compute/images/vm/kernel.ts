import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { YunError } from '../../../core/errors.ts';
import { run } from './exec.ts';

/** A Linux kernel unpacked from Debian's linux-image package. */
export interface DebianKernel {
  /** e.g. `6.1.0-57-amd64` */
  release: string;
  /** Path to `vmlinuz-<release>`. */
  vmlinuz: string;
  /** Path to `lib/modules/<release>` (the kernel's modules tree). */
  modulesDir: string;
}

/** Default cache dir: `$YUN_CACHE_DIR`, else `$XDG_CACHE_HOME/yun`, else `~/.cache/yun` (read at call time). */
export function defaultCacheDir(): string {
  if (process.env.YUN_CACHE_DIR) return process.env.YUN_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'yun');
}

/** Name of the versioned package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-57-amd64`. */
async function resolveKernelPackage(meta: string): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', meta]);
  const name = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(stdout)?.[1];
  if (!name) throw new YunError('CapabilityMissing', `cannot resolve the kernel package behind ${meta} (run apt-get update?)`);
  return name;
}

/**
 * Downloads (once) and unpacks Debian's amd64 kernel into `<cacheDir>/kernel/<package>`.
 * Safe to call concurrently from one process only; a half-unpacked tree is
 * never visible because it is unpacked into a temp dir and renamed.
 */
export async function fetchDebianKernel(cacheDir = defaultCacheDir(), meta = 'linux-image-amd64'): Promise<DebianKernel> {
  const root = join(cacheDir, 'kernel');
  let pkg: string;
  try {
    pkg = await resolveKernelPackage(meta);
  } catch (e) {
    // no apt lists (offline, before apt-get update): use a kernel cached earlier, if any
    const cached = existsSync(root) ? (await readdir(root)).filter((d) => existsSync(join(root, d, '.complete'))).sort() : [];
    const newest = cached.at(-1);
    if (!newest) throw e;
    pkg = newest;
  }
  const dest = join(root, pkg);
  if (!existsSync(join(dest, '.complete'))) {
    await mkdir(root, { recursive: true });
    const tmp = await mkdtemp(join(root, '.tmp-'));
    try {
      await run('apt-get', ['download', pkg], { cwd: tmp, timeoutMs: 600_000 });
      const deb = (await readdir(tmp)).find((f) => f.endsWith('.deb'));
      if (!deb) throw new YunError('DriverFailed', `apt-get download ${pkg} produced no .deb`);
      const tree = join(tmp, 'tree');
      await run('dpkg-deb', ['-x', join(tmp, deb), tree]);
      await run('touch', [join(tree, '.complete')]);
      await rm(dest, { recursive: true, force: true });
      await rename(tree, dest);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const boot = await readdir(join(dest, 'boot'));
  const vmlinuz = boot.find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new YunError('DriverFailed', `${pkg} has no boot/vmlinuz-*`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  return { release, vmlinuz: join(dest, 'boot', vmlinuz), modulesDir: join(dest, 'lib', 'modules', release) };
}

/** `vmlinuz` of the newest kernel already unpacked in the cache (no download), or undefined. */
export async function cachedKernel(cacheDir = defaultCacheDir()): Promise<string | undefined> {
  const root = join(cacheDir, 'kernel');
  const pkgs = existsSync(root) ? (await readdir(root)).filter((d) => existsSync(join(root, d, '.complete'))).sort() : [];
  for (const pkg of pkgs.reverse()) {
    const boot = join(root, pkg, 'boot');
    const v = existsSync(boot) ? (await readdir(boot)).find((f) => f.startsWith('vmlinuz-')) : undefined;
    if (v) return join(boot, v);
  }
  return undefined;
}
