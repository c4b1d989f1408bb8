/**
 * Network SERVICE benchmark (needs root, iproute2, nftables, busybox): what
 * the control plane adds on top of the data plane measured by run.ts.
 *
 *   wire      InstanceNetworking.prepare (IPAM in the store + veth/netns +
 *             rules + DNS) and release, per instance, p50/p95
 *   sg-apply  API rule add → the rule in nftables (HTTP request + commit +
 *             event + controller sync + nft), and → a new connection let in, p50
 *
 *   node --import tsx bench/network/service.ts [--instances 10] [--toggles 5]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/network/drivers/linux/exec.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { scrub } from '../../test/network/helpers.ts';
import { startNetCloud } from '../../test/network-service/helpers.ts';

const PREFIX = 'ybs';
const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))]!;
const ms = (n: number) => `${n.toFixed(1)} ms`;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  await scrub(PREFIX);
  const stateDir = await mkdtemp(join(tmpdir(), 'yun-bench-svc-'));
  const www = await mkdtemp(join(tmpdir(), 'yun-bench-www-'));
  await writeFile(join(www, 'index.html'), 'ok\n');
  const cloud = await startNetCloud({ prefix: PREFIX, stateDir, opts: { orphanPortGraceMs: Number.POSITIVE_INFINITY } });
  const httpd = [] as ReturnType<typeof spawn>[];
  try {
    const api = new NetworkApi(cloud.admin);
    const projectId = (await cloud.admin.projects.get('default')).id as string;
    await api.networks.create('bench', { cidr: '10.216.0.0/24' });
    await api.securityGroups.create('closed', { rules: [] });
    const n = opt('instances', 10);
    const inst = (i: number) => ({ id: `i-bench-${i}`, name: `b${i}`, project: projectId, networks: ['bench'], securityGroups: ['closed'], hostname: `b${i}` });
    const prep: number[] = [];
    const ns: string[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await cloud.net.networking.prepare(inst(i));
      prep.push(performance.now() - t0);
      ns.push(r.netnsPath!.split('/').pop()!);
    }
    // sg-apply: b1 → b0:80 blocked by `closed`; time from the API call to the first allowed connection.
    const h = spawn('ip', ['netns', 'exec', ns[0]!, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    httpd.push(h);
    await new Promise((r) => setTimeout(r, 300));
    // (no wget -T: busybox 1.35's static wget segfaults with it; `timeout` bounds the probe,
    // short, so a SYN sent just before the rule landed does not cost a 1 s retransmit)
    const probe = async () => (await run('timeout', ['0.3', 'ip', 'netns', 'exec', ns[1]!, '/bin/busybox', 'wget', '-q', '-O', '-', 'http://10.216.0.2/'], { allowFail: true })).stdout === 'ok\n';
    // every member port's chain carries the rule (the driver replaces chains port by port)
    const inKernel = async () => (await run('nft', ['list', 'table', 'inet', PREFIX])).stdout.split('ip saddr 10.216.0.0/24 tcp dport 80 return').length - 1 === n;
    const apply: number[] = [];
    const kernel: number[] = [];
    for (let k = 0; k < opt('toggles', 5); k++) {
      const t0 = performance.now();
      await api.securityGroups.addRule('closed', 'ingress tcp 80 10.216.0.0/24');
      while (!(await inKernel())) {
        if (performance.now() - t0 > 10_000) throw new Error('rule never reached nftables');
        await sleep(20);
      }
      kernel.push(performance.now() - t0);
      while (!(await probe())) if (performance.now() - t0 > 10_000) throw new Error('rule never took effect');
      apply.push(performance.now() - t0);
      await api.securityGroups.deleteRule('closed', 'ingress tcp 80 10.216.0.0/24');
      const t1 = performance.now();
      while (await probe()) if (performance.now() - t1 > 10_000) throw new Error('rule delete never took effect');
    }
    const rel: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await cloud.net.networking.release(inst(i));
      rel.push(performance.now() - t0);
    }
    process.stdout.write([
      `network service bench (${n} instances, driver ${cloud.net.networking.name})`,
      `  wire (prepare)   p50 ${ms(pct(prep, 0.5))}  p95 ${ms(pct(prep, 0.95))}`,
      `  unwire (release) p50 ${ms(pct(rel, 0.5))}  p95 ${ms(pct(rel, 0.95))}`,
      `  sg-apply via API → rule on all ${n} ports in nftables p50 ${ms(pct(kernel, 0.5))}  max ${ms(Math.max(...kernel))}  (target < 1000 ms)`,
      `  sg-apply via API → new connection allowed        p50 ${ms(pct(apply, 0.5))}  max ${ms(Math.max(...apply))}`,
    ].join('\n') + '\n');
  } finally {
    for (const h of httpd) h.kill('SIGKILL');
    await cloud.stop();
    await scrub(PREFIX);
    await rm(stateDir, { recursive: true, force: true });
    await rm(www, { recursive: true, force: true });
    await rm(cloud.home, { recursive: true, force: true });
  }
}

await main();
