/**
 * Compute driver benchmark: create→running latency of the oci driver versus
 * raw `crun run -d` of the very same bundle, in the same run.
 *
 *   node --import tsx bench/compute/driver.ts [--n 30]
 *
 * Driver: `create()` (overlay mount, bundle, cgroup) + `start()` (supervisor,
 * `crun run -d`, pid file) until the workload reports running. Raw: only
 * `crun run -d` on the prepared bundle (through the same private-mount-
 * namespace wrapper every crun call needs on hybrid-cgroup hosts, so the
 * baseline is the least any caller pays here). Workloads are interleaved
 * (driver, then raw on the same bundle) so drift hits both equally.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectCgroupLayout } from '../../src/compute/drivers/oci/cgroups.ts';
import { OciDriver } from '../../src/compute/drivers/oci/driver.ts';
import { findOciRuntime } from '../../src/compute/drivers/oci/runtime.ts';
import { buildBusyboxImage } from '../../src/compute/images/busybox.ts';

const WITHOUT_UNIFIED = fileURLToPath(new URL('../../src/compute/drivers/oci/without-unified.sh', import.meta.url));

function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('error', reject);
    c.on('close', (code) => resolve(code ?? -1));
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function main() {
  const nArg = process.argv.indexOf('--n');
  const n = nArg > 0 ? Number(process.argv[nArg + 1]) : 30;
  const rt = await findOciRuntime();
  if (!rt || process.getuid?.() !== 0) {
    console.error('needs root and crun/runc');
    process.exit(2);
  }
  const tmp = await mkdtemp(join(tmpdir(), 'yun-bench-compute-'));
  const image = await buildBusyboxImage(join(tmp, 'image'));
  const stateDir = join(tmp, 'oci');
  const d = new OciDriver({ stateDir, runtime: rt });
  const rawRoot = join(tmp, 'raw-root');
  const hide = rt.name === 'crun' && detectCgroupLayout() === 'hybrid';
  const raw = (args: string[]) => {
    const argv = [rt.path, '--root', rawRoot, ...(rt.name === 'crun' ? ['--cgroup-manager=cgroupfs'] : []), ...args];
    return hide ? exec('unshare', ['--mount', '--propagation', 'private', '--', 'sh', WITHOUT_UNIFIED, ...argv]) : exec(argv[0]!, argv.slice(1));
  };
  const driverMs: number[] = [];
  const startMs: number[] = [];
  const rawMs: number[] = [];
  try {
    // Warm-up (page cache, first overlay mount).
    await d.create({ id: 'warm', imageRootfs: image.rootfs, command: ['sleep', '1000'] });
    await d.start('warm');
    await d.delete('warm');
    for (let i = 0; i < n; i++) {
      const id = `bench-${i}`;
      const t0 = performance.now();
      await d.create({ id, imageRootfs: image.rootfs, command: ['sleep', '1000'], limits: { cpus: 0.5, memoryMb: 64, pids: 64 } });
      const t1 = performance.now();
      await d.start(id);
      const t2 = performance.now();
      if ((await d.inspect(id))?.state !== 'running') throw new Error(`${id} not running`);
      driverMs.push(t2 - t0);
      startMs.push(t2 - t1);
      await d.stop(id, { timeoutMs: 0 });
      const bundle = join(stateDir, 'workloads', id, 'bundle');
      const r0 = performance.now();
      const code = await raw(['run', '-d', '--bundle', bundle, `raw-${i}`]);
      rawMs.push(performance.now() - r0);
      if (code !== 0) throw new Error(`raw crun run failed (${code})`);
      await raw(['kill', '--all', `raw-${i}`, 'KILL']);
      await new Promise((r) => setTimeout(r, 50));
      await raw(['delete', '--force', `raw-${i}`]);
      await d.delete(id);
    }
  } finally {
    for (const w of await d.list()) await d.delete(w.id);
    await rm(tmp, { recursive: true, force: true });
  }
  const row = (name: string, xs: number[]) => `${name.padEnd(34)} p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms   p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms`;
  console.log(`compute driver: create→running latency, ${n} workloads, ${rt.name} ${rt.version}, cgroups ${detectCgroupLayout()}`);
  console.log(row('oci driver create+start', driverMs));
  console.log(row('oci driver start only', startMs));
  console.log(row(`raw ${rt.name} run -d (same bundle)`, rawMs));
  console.log(`ratio driver/raw: p50 ${(pct(driverMs, 50) / pct(rawMs, 50)).toFixed(2)}x   p95 ${(pct(driverMs, 95) / pct(rawMs, 95)).toFixed(2)}x`);
}

await main();
