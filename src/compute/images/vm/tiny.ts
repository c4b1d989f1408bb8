import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { YunError } from '../../../core/errors.ts';
import { run } from './exec.ts';
import { INIT_SCRIPT, POWEROFF_SCRIPT, TINY_VM_BOOT_MARKER } from './init-script.ts';
import { defaultCacheDir, fetchDebianKernel } from './kernel.ts';
import { resolveModules } from './modules.ts';

/**
 * tiny-vm: Debian's kernel + a busybox initramfs + a small ext4 base disk.
 * It cannot: run cloud-config (only `#!` user-data scripts), configure
 * networking, or install packages. It exists to prove the VM path end to end.
 */
export interface TinyVmImage {
  kernel: string;
  initrd: string;
  /** qcow2 base disk (64 MiB ext4 holding `/yun-disk.txt`); the guest mounts it at /mnt/vda. */
  disk: string;
  /** Kernel command line the image expects. */
  cmdline: string;
  /** Line printed on the serial console when init is done. */
  bootMarker: string;
  kernelRelease: string;
  /** Hash of what the build put in (init script, module list, kernel): a changed recipe rebuilds. */
  buildId: string;
}

/** Modules the guest loads (with their dependencies, resolved from the kernel package). */
export const TINY_VM_MODULES = [
  'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_balloon', 'pvpanic_pci', 'button', 'evdev',
  'crc32c_generic', 'ext4', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8', 'isofs',
] as const;

/** Bump when the build steps change in a way the hashed inputs do not show. */
const BUILD_RECIPE_VERSION = 1;

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

async function findStaticBusybox(): Promise<string> {
  for (const p of BUSYBOX_CANDIDATES) {
    if (!existsSync(p)) continue;
    const head = await readFile(p).then((b) => b.subarray(0, 4096));
    // a static binary has no PT_INTERP, so no dynamic loader path in its first page
    if (!head.includes(Buffer.from('/lib64/ld-linux'))) return p;
  }
  throw new YunError('CapabilityMissing', 'a static busybox is needed (Debian package busybox-static)');
}

/** Lists every path under `root`, relative, parents first (cpio's input order). */
async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      out.push(relative(root, p));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

/** Packs `root` as a gzip'd newc cpio with busybox cpio. */
export async function packInitramfs(root: string, out: string, busybox: string): Promise<void> {
  const files = await listTree(root);
  const child = spawn(busybox, ['cpio', '-o', '-H', 'newc', '-R', '0:0'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
  child.stdin.end(`${files.join('\n')}\n`);
  await pipeline(child.stdout, createGzip({ level: 9 }), createWriteStream(out));
  const code = await exited;
  if (code !== 0) throw new YunError('DriverFailed', `busybox cpio failed: ${stderr.trim()}`);
}

async function buildRoot(root: string, busybox: string, modulesDir: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'etc/acpi/PWRF', 'proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'lib/modules', 'var/log']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await copyFile(busybox, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await run(busybox, ['--list']);
  for (const applet of stdout.split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox')) {
    await symlink('busybox', join(root, 'bin', applet));
  }
  const mods = await resolveModules(modulesDir, TINY_VM_MODULES);
  for (const rel of mods) {
    await mkdir(dirname(join(root, 'lib/modules', rel)), { recursive: true });
    await copyFile(join(modulesDir, rel), join(root, 'lib/modules', rel));
  }
  await writeFile(join(root, 'etc/modules.load'), `${mods.join('\n')}\n`);
  await writeFile(join(root, 'init'), INIT_SCRIPT, { mode: 0o755 });
  await writeFile(join(root, 'etc/acpi/PWRF/00000080'), POWEROFF_SCRIPT, { mode: 0o755 });
  await writeFile(join(root, 'etc/hostname'), 'tiny\n');
}

async function buildBaseDisk(out: string, workDir: string): Promise<void> {
  const content = join(workDir, 'disk-content');
  await mkdir(content, { recursive: true });
  await writeFile(join(content, 'yun-disk.txt'), 'yun tiny base disk v1\n');
  const raw = join(workDir, 'disk.raw');
  await run('mkfs.ext4', ['-q', '-F', '-L', 'tiny-root', '-d', content, raw, '64M']);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, out]);
}

/**
 * Builds tiny-vm into `dir` (kernel, initrd.gz, disk.qcow2, image.json) and
 * returns it; a complete earlier build in `dir` is reused. The kernel package
 * is cached under `cacheDir`. Needs: apt-get/dpkg-deb, busybox-static,
 * e2fsprogs (mkfs.ext4 -d), qemu-utils.
 */
export async function buildTinyVmImage(dir: string, opts: { cacheDir?: string } = {}): Promise<TinyVmImage> {
  const manifest = join(dir, 'image.json');
  const kernel = await fetchDebianKernel(opts.cacheDir ?? defaultCacheDir());
  const buildId = createHash('sha256')
    .update(JSON.stringify([INIT_SCRIPT, POWEROFF_SCRIPT, TINY_VM_MODULES, kernel.release, BUILD_RECIPE_VERSION]))
    .digest('hex')
    .slice(0, 16);
  if (existsSync(manifest)) {
    const img = JSON.parse(await readFile(manifest, 'utf8')) as TinyVmImage;
    if (img.buildId === buildId && [img.kernel, img.initrd, img.disk].every((p) => existsSync(p))) return img;
  }
  const busybox = await findStaticBusybox();
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, '.build-'));
  try {
    const root = join(work, 'root');
    await buildRoot(root, busybox, kernel.modulesDir);
    await packInitramfs(root, join(work, 'initrd.gz'), busybox);
    await buildBaseDisk(join(work, 'disk.qcow2'), work);
    await copyFile(kernel.vmlinuz, join(work, 'vmlinuz'));
    for (const f of ['vmlinuz', 'initrd.gz', 'disk.qcow2']) await rename(join(work, f), join(dir, f));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const img: TinyVmImage = {
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.gz'),
    disk: join(dir, 'disk.qcow2'),
    cmdline: 'console=ttyS0 panic=5 loglevel=4 rdinit=/init',
    bootMarker: TINY_VM_BOOT_MARKER,
    kernelRelease: kernel.release,
    buildId,
  };
  await writeFile(manifest, JSON.stringify(img, null, 2));
  return img;
}
