/**
 * VM and volume benchmark, driver versus the raw tool in the same run.
 *
 *   node --import tsx bench/vm/run.ts [--boots 3] [--volumes 10]
 *
 * Boot: tiny-vm (Debian kernel + busybox initramfs) from `create` to the
 * boot marker on the serial console through the qemu driver (overlay, seed
 * ISO, daemonized QEMU, QMP), versus plain `qemu-system-x86_64 -serial
 * stdio` with the same kernel, initrd, disks (made beforehand, untimed),
 * memory and accelerator. Runs are interleaved so drift hits both. Under
 * TCG on a shared 2-core host boot times swing by 2x between runs.
 * Volumes: create 1 GiB and snapshot a volume holding 64 MiB of data,
 * through the file and qcow2 drivers versus `truncate`/`cp --reflink=auto`
 * and `qemu-img create` (the same work done by hand).
 * Then `volume.ts`: volume throughput inside a container versus the host disk.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileVolumeDriver } from '../../src/block/drivers/file/driver.ts';
import { Qcow2VolumeDriver } from '../../src/block/drivers/qcow2/driver.ts';
import { runTool } from '../../src/block/drivers/common.ts';
import { QemuDriver } from '../../src/compute/drivers/qemu/driver.ts';
import { probeAccelerator } from '../../src/compute/drivers/qemu/probe.ts';
import { buildSeedImage } from '../../src/compute/drivers/qemu/seed.ts';
import { buildTinyVmImage, type TinyVmImage } from '../../src/compute/images/vm/tiny.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms  min ${Math.min(...xs).toFixed(1)}  max ${Math.max(...xs).toFixed(1)}  (n=${xs.length})`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Plain QEMU in the foreground until the marker shows on stdout; then killed. */
function rawBoot(img: TinyVmImage, accel: string, overlay: string, seed: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const args = ['-accel', accel, '-m', '256', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none',
      '-serial', 'stdio', '-kernel', img.kernel, '-initrd', img.initrd, '-append', img.cmdline,
      '-drive', `file=${overlay},if=virtio,format=qcow2`, '-drive', `file=${seed},if=virtio,format=raw,readonly=on`];
    const c = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => { c.kill('SIGKILL'); reject(new Error('raw boot timed out')); }, 180_000);
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(img.bootMarker)) {
        clearTimeout(timer);
        const ms = performance.now() - t0;
        c.on('close', () => resolve(ms));
        c.kill('SIGKILL');
      }
    });
    c.on('error', reject);
  });
}

async function driverBoot(d: QemuDriver, img: TinyVmImage, imageDir: string, id: string): Promise<number> {
  const t0 = performance.now();
  await d.create({ id, imageRootfs: imageDir, command: [], limits: { cpus: 1, memoryMb: 256 } });
  await d.start(id);
  for (;;) {
    if ((await d.readLog(id)).includes(img.bootMarker)) break;
    if (performance.now() - t0 > 180_000) throw new Error('driver boot timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
  const ms = performance.now() - t0;
  await d.delete(id);
  return ms;
}

async function bootBench(work: string, boots: number) {
  const imageDir = join(work, 'image');
  let img: TinyVmImage | undefined;
  const buildMs = await time(async () => { img = await buildTinyVmImage(imageDir); });
  if (!img) throw new Error('no image');
  console.log(`tiny-vm build (kernel from cache if present): ${buildMs.toFixed(0)} ms`);
  const probe = await probeAccelerator({ binary: 'qemu-system-x86_64', probeKernel: img.kernel });
  console.log(`accelerator: ${probe.accelerator}${probe.warning ? ` (${probe.warning})` : ''}`);
  const d = new QemuDriver({ stateDir: join(work, 'state'), accelerator: probe.accelerator });
  const drv: number[] = [];
  const raw: number[] = [];
  const seed = join(work, 'raw-seed.iso');
  await buildSeedImage(seed, { instanceId: 'raw', hostname: 'raw' });
  for (let i = 0; i < boots; i++) {
    drv.push(await driverBoot(d, img, imageDir, `bench-${i}`));
    const overlay = join(work, `raw-${i}.qcow2`);
    await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img.disk, overlay]);
    raw.push(await rawBoot(img, probe.accelerator, overlay, seed));
  }
  console.log(`boot to marker, qemu driver (create+start: overlay, seed, daemonize, QMP): ${fmt(drv)}`);
  console.log(`boot to marker, raw qemu-system-x86_64 (same disks, made beforehand):      ${fmt(raw)}`);
}

async function volumeBench(work: string, n: number) {
  const GiB = 1;
  const file = new FileVolumeDriver({ root: join(work, 'file') });
  const q = new Qcow2VolumeDriver({ root: join(work, 'qcow2') });
  const rawDir = join(work, 'raw');
  await runTool('mkdir', ['-p', rawDir]);
  const rows: Array<[string, number[]]> = [];
  const add = (name: string, xs: number[]) => rows.push([name, xs]);

  const fc: number[] = [], tc: number[] = [], qc: number[] = [], ic: number[] = [];
  for (let i = 0; i < n; i++) {
    fc.push(await time(() => file.create(`c-${i}`, GiB)));
    tc.push(await time(() => runTool('truncate', ['-s', '1G', join(rawDir, `c-${i}.img`)])));
    qc.push(await time(() => q.create(`c-${i}`, GiB)));
    ic.push(await time(() => runTool('qemu-img', ['create', '-q', '-f', 'qcow2', join(rawDir, `c-${i}.qcow2`), '1G'])));
  }
  add('create 1 GiB: file driver', fc);
  add('create 1 GiB: truncate -s 1G', tc);
  add('create 1 GiB: qcow2 driver', qc);
  add('create 1 GiB: qemu-img create', ic);

  // 64 MiB of real data in each source volume
  await file.create('src', GiB);
  await runTool('dd', ['if=/dev/urandom', `of=${(await file.attachment('src')).path}`, 'bs=1M', 'count=64', 'conv=notrunc', 'status=none']);
  await q.create('src', GiB);
  const srcRaw = join(rawDir, 'src.raw');
  await runTool('cp', ['--sparse=always', (await file.attachment('src')).path, srcRaw]);
  await runTool('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'qcow2', srcRaw, (await q.attachment('src')).path]);
  const fs: number[] = [], cs: number[] = [], qs: number[] = [], bs: number[] = [], ns: number[] = [];
  for (let i = 0; i < n; i++) {
    fs.push(await time(() => file.createSnapshot('src', `s-${i}`)));
    cs.push(await time(() => runTool('cp', ['--reflink=auto', '--sparse=always', srcRaw, join(rawDir, `s-${i}.raw`)])));
    qs.push(await time(() => q.createSnapshot('src', `s-${i}`)));
    const qsrc = (await q.attachment('src')).path;
    bs.push(await time(() => runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', qsrc, join(rawDir, `s-${i}.qcow2`)])));
    ns.push(await time(() => runTool('qemu-img', ['snapshot', '-c', `s-${i}`, join(rawDir, 'c-0.qcow2')])));
  }
  add('snapshot (64 MiB data): file driver', fs);
  add('snapshot (64 MiB data): cp --reflink=auto --sparse', cs);
  add('snapshot (64 MiB data): qcow2 driver (chain)', qs);
  add('snapshot (64 MiB data): qemu-img create -b (overlay)', bs);
  add('snapshot: qemu-img snapshot -c (internal)', ns);
  const fv: number[] = [], qv: number[] = [];
  for (let i = 0; i < n; i++) {
    fv.push(await time(() => file.create(`from-${i}`, GiB, { fromSnapshot: `s-${i}` })));
    qv.push(await time(() => q.create(`from-${i}`, GiB, { fromSnapshot: `s-${i}` })));
  }
  add('volume from snapshot: file driver', fv);
  add('volume from snapshot: qcow2 driver', qv);
  const qd: number[] = [];
  for (let i = 0; i < n; i++) qd.push(await time(() => q.deleteSnapshot(`s-${i}`)));
  add('delete snapshot with a dependent clone: qcow2 driver (rebase)', qd);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, xs] of rows) console.log(`${k.padEnd(w)}  ${fmt(xs)}`);
  console.log(`file driver snapshot method: ${(await file.capabilities()).snapshotMethod}`);
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'yun-bench-vm-'));
  try {
    await volumeBench(work, arg('--volumes', 10));
    await bootBench(work, arg('--boots', 3));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'volume.ts')], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = r.status ?? 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
