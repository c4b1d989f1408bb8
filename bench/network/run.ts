/**
 * Network data-plane benchmark (needs root, iproute2, nftables).
 *
 * One instance namespace runs a small Node HTTP server. In the same run,
 * autocannon (a separate process) measures requests/s and p50 latency:
 *   direct     host → instance address (bridge + security group chain)
 *   published  host 127.0.0.1:port → DNAT → instance
 *   lb-l7      host → Node L7 load balancer (in this process) → instance
 *   lb-l4      the same through an L4 (TCP splice) listener: what any proxy
 *              process costs on this machine, the floor under lb-l7
 * and it times security group changes (driver call, and until the new rule
 * is observed to let a connection through).
 *
 * Paths are measured in interleaved rounds (direct, published, lb, direct, …)
 * and the median round is reported, so background load on a shared machine
 * hits all three alike.
 *
 *   node --import tsx bench/network/run.ts [--duration 3] [--rounds 3] [--connections 32]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { LinuxNetworkDriver } from '../../src/network/drivers/linux/driver.ts';
import { run } from '../../src/network/drivers/linux/exec.ts';
import { NodeLoadBalancer } from '../../src/network/lb/node.ts';

const PREFIX = 'ybn';
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const duration = opt('duration', 3);
const rounds = opt('rounds', 3);
const connections = opt('connections', 32);

interface Figures {
  rps: number;
  p50: number;
  mean: number;
  p99: number;
  errors: number;
}

async function cannon(url: string, seconds = duration): Promise<Figures> {
  const r = await run(process.execPath, [join(process.cwd(), 'node_modules/autocannon/autocannon.js'), '-j', '-c', String(connections), '-d', String(seconds), url], { timeoutMs: (seconds + 30) * 1000 });
  const j = JSON.parse(r.stdout) as { requests: { average: number }; latency: { p50: number; average: number; p99: number }; errors: number; non2xx: number };
  return { rps: j.requests.average, p50: j.latency.p50, mean: j.latency.average, p99: j.latency.p99, errors: j.errors + j.non2xx };
}

function canConnect(host: string, port: number, timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const t = setTimeout(() => { s.destroy(); resolve(false); }, timeoutMs);
    s.on('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.on('error', () => { clearTimeout(t); resolve(false); });
  });
}

async function main() {
  if (process.getuid?.() !== 0) {
    console.log('skipped: the network benchmark needs root');
    return;
  }
  const stateDir = await mkdtemp(join(tmpdir(), 'yun-netbench-'));
  const driver = await LinuxNetworkDriver.open({ prefix: PREFIX, stateDir });
  const lb = new NodeLoadBalancer();
  let server: ChildProcess | undefined;
  try {
    await driver.reconcile({ networks: [], ports: [], publishedPorts: [] });
    await driver.ensureNetwork({ id: 'bench', cidr: '10.251.0.0/24', gateway: '10.251.0.1', nat: false });
    const a = await driver.attach({
      networkId: 'bench', portId: 'bench-port', instanceId: 'bench-inst', ip: '10.251.0.10',
      securityRules: [{ direction: 'ingress', protocol: 'tcp', portMin: 8080, portMax: 8080 }],
    });
    const ns = basename(a.netnsPath!);
    server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
      "require('http').createServer((q,s)=>s.end('ok')).listen(8080,'0.0.0.0');" + ' ' +
      "require('net').createServer(c=>c.end()).listen(9090,'0.0.0.0')"], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await canConnect('10.251.0.10', 8080)); i++) await new Promise((r) => setTimeout(r, 50));
    await driver.publishPort({ id: 'bench-pub', hostIp: '127.0.0.1', hostPort: 18990, protocol: 'tcp', targetIp: '10.251.0.10', targetPort: 8080 });
    const st = await lb.ensure({
      id: 'bench-lb',
      pools: [{ id: 'p', algorithm: 'round_robin', members: [{ id: 'm', host: '10.251.0.10', port: 8080 }] }],
      listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }, { id: 't', protocol: 'tcp', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });

    console.log(`network bench: ${connections} connections, ${rounds} interleaved rounds of ${duration}s per path (median round shown), cpus=${(await import('node:os')).cpus().length}`);
    // 1 s warm-up per path (JIT, conntrack, keep-alive pools), then the measured runs.
    const lbUrl = `http://127.0.0.1:${st.listeners.find((l) => l.id === 'l')!.port}/`;
    const l4Url = `http://127.0.0.1:${st.listeners.find((l) => l.id === 't')!.port}/`;
    for (const u of ['http://10.251.0.10:8080/', 'http://127.0.0.1:18990/', lbUrl, l4Url]) await cannon(u, 1);
    const samples: Record<'direct' | 'published' | 'lb' | 'l4', Figures[]> = { direct: [], published: [], lb: [], l4: [] };
    for (let r = 0; r < rounds; r++) {
      samples.direct.push(await cannon('http://10.251.0.10:8080/'));
      samples.published.push(await cannon('http://127.0.0.1:18990/'));
      samples.lb.push(await cannon(lbUrl));
      samples.l4.push(await cannon(l4Url));
    }
    const median = (xs: Figures[]) => [...xs].sort((x, y) => x.rps - y.rps)[Math.floor(xs.length / 2)]!;
    const direct = median(samples.direct);
    const published = median(samples.published);
    const viaLb = median(samples.lb);
    const row = (name: string, f: Figures) =>
      console.log(`${name.padEnd(10)} ${f.rps.toFixed(0).padStart(8)} req/s  p50 ${String(f.p50).padStart(3)} ms  mean ${f.mean.toFixed(2).padStart(6)} ms  p99 ${String(f.p99).padStart(4)} ms  errors ${f.errors}  rps ratio to direct ${(f.rps / direct.rps).toFixed(2)}, mean latency ratio ${(f.mean / direct.mean).toFixed(2)}`);
    row('direct', direct);
    row('published', published);
    row('lb-l7', viaLb);
    row('lb-l4', median(samples.l4));

    // Security group change: driver call time, and time until the kernel lets a new flow through.
    const base = [{ direction: 'ingress' as const, protocol: 'tcp' as const, portMin: 8080, portMax: 8080 }];
    const callMs: number[] = [];
    const effectMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      await driver.applySecurityGroups('bench-port', base);
      if (await canConnect('10.251.0.10', 9090)) throw new Error('9090 should be blocked');
      const t0 = performance.now();
      await driver.applySecurityGroups('bench-port', [...base, { direction: 'ingress', protocol: 'tcp', portMin: 9090, portMax: 9090 }]);
      callMs.push(performance.now() - t0);
      while (!(await canConnect('10.251.0.10', 9090, 100))) { /* poll */ }
      effectMs.push(performance.now() - t0);
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    console.log(`security group change: apply call p50 ${med(callMs).toFixed(1)} ms (max ${Math.max(...callMs).toFixed(1)}), effective p50 ${med(effectMs).toFixed(1)} ms (max ${Math.max(...effectMs).toFixed(1)})`);
  } finally {
    server?.kill('SIGKILL');
    await lb.close();
    await driver.reconcile({ networks: [], ports: [], publishedPorts: [] });
    await driver.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
