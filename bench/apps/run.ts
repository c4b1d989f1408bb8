/**
 * Apps benchmark (needs root, crun/runc, iproute2, nftables).
 *
 * In one run, with real crun replicas on the linux network service:
 *   - router vs direct: requests/s, p50 and p99 through the apps router
 *     (Host-header routing, keep-alive to replicas) against autocannon
 *     straight at one replica's address; with 1 replica and with 4 (direct
 *     still hits one replica). Interleaved rounds, median round reported.
 *   - deploy → first 200: a small Node.js folder uploaded, built, started
 *     and answered through the router (p50 of 5).
 *   - rollout time for 5 replicas (maxSurge 25%, maxUnavailable 25%).
 *
 *   node --import tsx bench/apps/run.ts [--duration 3] [--rounds 3] [--connections 32]
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveConfig } from '../../src/core/config.ts';
import { run } from '../../src/network/drivers/linux/exec.ts';
import { metadataTarget, networkModule } from '../../src/network/module.ts';
import { apps } from '../../src/sdk/apps.ts';
import { buildImage, httpGet, startAppsCloud } from '../../test/apps/helpers.ts';
import { rmrf, scrub, tmp } from '../../test/network-service/helpers.ts';

const PREFIX = 'yba';
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const duration = opt('duration', 3);
const rounds = opt('rounds', 3);
const connections = opt('connections', 32);

interface Figures { rps: number; p50: number; p99: number; errors: number }

async function cannon(url: string, host?: string, seconds = duration): Promise<Figures> {
  const r = await run(process.execPath, [join(process.cwd(), 'node_modules/autocannon/autocannon.js'), '-j', '-c', String(connections), '-d', String(seconds), ...(host ? ['-H', `host=${host}`] : []), url], { timeoutMs: (seconds + 30) * 1000 });
  const j = JSON.parse(r.stdout) as { requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number };
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, errors: j.errors + j.non2xx };
}

const median = (xs: Figures[]) => [...xs].sort((a, b) => a.rps - b.rps)[Math.floor(xs.length / 2)]!;
const fmt = (f: Figures) => `${Math.round(f.rps).toString().padStart(7)} req/s  p50 ${f.p50.toFixed(1).padStart(5)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms  errors ${f.errors}`;

const SERVER = 'require("http").createServer((q, s) => s.end("ok\\n")).listen(Number(process.env.PORT))';

async function main() {
  if (process.getuid?.() !== 0) throw new Error('run as root (crun, network namespaces)');
  await scrub(PREFIX);
  const stateDir = await tmp('yun-apps-bench-state-');
  const work = await tmp('yun-apps-bench-work-');
  const cc = await startAppsCloud({
    before: async (home) => {
      const config = resolveConfig({ home }, {});
      const md = await metadataTarget(config);
      const net = await networkModule(config, { driver: 'linux', prefix: PREFIX, stateDir, resyncMs: 1000, metadata: () => md });
      return { modules: [net], compute: { driver: 'oci', networking: net.networking, metadataPort: md.port, pollMs: 2000 } };
    },
  });
  try {
    const a = apps(cc.c);
    const port = cc.routerPort();
    await buildImage(cc.c, 'busybox', 'busybox');
    await buildImage(cc.c, 'node', 'node');
    const host = 'bench.default.apps.localhost';
    await a.deployImage('bench', { image: 'node', port: 8080, replicas: 1, cpus: 0.5, memoryMb: 128, command: ['node', '-e', SERVER], healthCheck: { type: 'http', path: '/', intervalSeconds: 1 } });
    await a.waitAvailable('bench', { timeoutMs: 120_000 });
    const replicaAddr = async () => (await a.get('bench')).status.replicaStatus!.find((r) => r.ready)!.address!;

    for (const n of [1, 4]) {
      if (n > 1) { await a.scale('bench', n); await a.waitAvailable('bench', { timeoutMs: 120_000 }); }
      const direct: Figures[] = [];
      const routed: Figures[] = [];
      const addr = await replicaAddr();
      // 1 s warm-up per path (JIT, keep-alive pools), as the network bench does
      await cannon(`http://${addr}/`, undefined, 1);
      await cannon(`http://127.0.0.1:${port}/`, host, 1);
      for (let i = 0; i < rounds; i++) {
        direct.push(await cannon(`http://${addr}/`));
        routed.push(await cannon(`http://127.0.0.1:${port}/`, host));
      }
      const d = median(direct);
      const r = median(routed);
      process.stdout.write(`\n${n} replica${n > 1 ? 's' : ''} (${connections} connections, ${duration} s × ${rounds} rounds, median round)\n`);
      process.stdout.write(`  direct to one replica  ${fmt(d)}\n`);
      process.stdout.write(`  through the router     ${fmt(r)}\n`);
      process.stdout.write(`  router / direct        ${(r.rps / d.rps).toFixed(2)}× throughput\n`);
    }

    // rollout time for 5 replicas
    await a.scale('bench', 5);
    await a.waitAvailable('bench', { timeoutMs: 120_000 });
    const cur = await a.get('bench');
    const t0 = Date.now();
    await a.deployImage('bench', { ...cur.spec, env: { ROLL: '2' } });
    await a.waitAvailable('bench', { timeoutMs: 300_000 });
    process.stdout.write(`\nrollout of 5 replicas (maxSurge 25%, maxUnavailable 25%): ${Date.now() - t0} ms\n`);
    await a.delete('bench');

    // deploy → first 200 of a small Node app folder
    const dir = join(work, 'small');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'small', scripts: { start: 'node server.js' } }));
    await writeFile(join(dir, 'server.js'), SERVER);
    const times: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const name = `small${i}`;
      const archive = execFileSync('tar', ['-cz', '-C', dir, '.']);
      const s = Date.now();
      await a.deploySource(name, archive, { port: 8080 });
      for (;;) {
        const r = await httpGet(port, `${name}.default.apps.localhost`).catch(() => ({ status: 0, body: '' }));
        if (r.status === 200) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      times.push(Date.now() - s);
      await a.delete(name);
    }
    times.sort((x, y) => x - y);
    process.stdout.write(`deploy of a small Node.js folder → first 200 through the router: p50 ${times[2]} ms (all: ${times.join(', ')} ms)\n`);
  } finally {
    await cc.stop();
    await scrub(PREFIX);
    await rmrf(stateDir);
    await rmrf(work);
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 1; });
