/**
 * Create→running latency through the API (POST /v1/instances, then polling
 * GET until `running`), p50/p95 over N instances with the oci driver and
 * real crun, against raw `crun run -d` of the very same bundles in the same
 * run. Target: API p50 ≤ raw + 20 ms and ≤ 2× raw. The API time is split by
 * the status timeline into control plane (created → starting) and driver
 * create+start (starting → running).
 *   node --import tsx bench/compute/api.ts [--n 50]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectCgroupLayout } from '../../src/compute/drivers/oci/cgroups.ts';
import { findOciRuntime } from '../../src/compute/drivers/oci/runtime.ts';
import { buildImage, startComputeCloud } from '../../test/compute/helpers.ts';

const WITHOUT_UNIFIED = fileURLToPath(new URL('../../src/compute/drivers/oci/without-unified.sh', import.meta.url));
const exec = (cmd: string, args: string[]) => new Promise<number>((res) => spawn(cmd, args, { stdio: 'ignore' }).on('close', (c) => res(c ?? 1)));
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; };

const nArg = process.argv.indexOf('--n');
const n = nArg > 0 ? Number(process.argv[nArg + 1]) : 50;
const rt = await findOciRuntime();
if (!rt || process.getuid?.() !== 0) { console.error('needs root and crun/runc'); process.exit(2); }
const cc = await startComputeCloud({ compute: { driver: 'oci', pollMs: 1000 } });
const rawRoot = join(cc.home, 'raw-root');
const hide = rt.name === 'crun' && detectCgroupLayout() === 'hybrid';
const raw = (args: string[]) => {
  const argv = [rt.path, '--root', rawRoot, ...(rt.name === 'crun' ? ['--cgroup-manager=cgroupfs'] : []), ...args];
  return hide ? exec('unshare', ['--mount', '--propagation', 'private', '--', 'sh', WITHOUT_UNIFIED, ...argv]) : exec(argv[0]!, argv.slice(1));
};
const apiMs: number[] = [];
const planeMs: number[] = [];
const driverMs: number[] = [];
const rawMs: number[] = [];
try {
  for (const [k, v] of Object.entries({ instances: n + 10, vcpus: 4 * (n + 10), ram_mb: 64 * (n + 10) })) await cc.c.request('PUT', `/v1/quotas/${k}`, { body: { limit: v } });
  await buildImage(cc.c, 'busybox', 'busybox');
  // API and raw runs are interleaved, so both see the same machine load.
  const waitState = async (name: string, want: string) => {
    for (;;) {
      const s = await cc.c.request<{ status: { state?: string } }>('GET', `/v1/instances/${name}`);
      if (s.status.state === want) return;
      if (['error', 'exited'].includes(s.status.state ?? '')) throw new Error(`${name}: ${JSON.stringify(s.status)}`);
      await new Promise((x) => setTimeout(x, 2));
    }
  };
  for (let i = -1; i < n; i++) {
    const name = i < 0 ? 'warm' : `b${i}`;
    const t0 = performance.now();
    const r = await cc.c.request<{ id: string }>('POST', '/v1/instances', { body: { name, spec: { image: 'busybox', cpus: 0.1, memoryMb: 64, command: ['sleep', '1000'] } } });
    await waitState(name, 'running');
    const apiTime = performance.now() - t0;
    // Split by the status timeline: POST → 'starting' is the control plane, 'starting' → 'running' the driver.
    const ev = await cc.tc.cloud.ctx.store.all<{ object: string; at: string }>('SELECT object, at FROM events WHERE resource_id = ? ORDER BY seq', [r.id]);
    const at = (st: string) => Date.parse(ev.find((e) => (JSON.parse(e.object) as { status: { state?: string } }).status.state === st)?.at ?? '');
    if (i >= 0) { planeMs.push(at('starting') - at('pending')); driverMs.push(at('running') - at('starting')); }
    // Stop it through the API, then run the very same bundle with crun directly.
    await cc.c.request('POST', `/v1/instances/${name}/actions/stop`);
    await waitState(name, 'stopped');
    const bundle = join(cc.home, 'compute', 'oci', 'workloads', r.id, 'bundle');
    const r0 = performance.now();
    const code = await raw(['run', '-d', '--bundle', bundle, `raw-${i}`]);
    const rawTime = performance.now() - r0;
    if (code !== 0) throw new Error(`raw crun run failed (${code})`);
    await raw(['kill', '--all', `raw-${i}`, 'KILL']);
    await new Promise((x) => setTimeout(x, 50));
    await raw(['delete', '--force', `raw-${i}`]);
    if (i >= 0) { apiMs.push(apiTime); rawMs.push(rawTime); }
  }
} finally {
  await cc.stop();
}
const row = (name: string, xs: number[]) => `${name.padEnd(36)} p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms   p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms`;
console.log(`compute API: create→running over ${n} instances, ${rt.name} ${rt.version}, cgroups ${detectCgroupLayout()}`);
console.log(row('API POST → status running', apiMs));
console.log(row(`raw ${rt.name} run -d (same bundles)`, rawMs));
console.log(row('  of which: created → starting', planeMs));
console.log(row('  of which: starting → running', driverMs));
const d = pct(apiMs, 50) - pct(rawMs, 50);
const ratio = pct(apiMs, 50) / pct(rawMs, 50);
console.log(`p50: API − raw = ${d.toFixed(1)} ms (target ≤ 20) ${d <= 20 ? 'OK' : 'MISSED'}; API / raw = ${ratio.toFixed(2)}× (target ≤ 2×) ${ratio <= 2 ? 'OK' : 'MISSED'}`);
