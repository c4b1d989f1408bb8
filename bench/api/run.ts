/**
 * API benchmark: authenticated list (GET) and create (POST) through yun vs
 * a bare Fastify hello world on the same machine, same run. Targets (issue
 * 2): GET ≥ 0.5× and create ≥ 0.3× the bare server's requests/s; create p99
 * ≤ 20 ms at 1,000 req/s — measured both as autocannon's overallRate (which
 * sends each second's share in a burst) and truly paced (see `paced`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';

interface Result { rps: number; p50: number; p99: number; errors: number; non2xx: number }

function server(kind: 'yun' | 'bare'): Promise<{ child: ChildProcess; url: string; token?: string }> {
  const child = fork(join(import.meta.dirname, 'servers.ts'), [kind], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string; token?: string }) => resolve({ child, ...m }));
    child.once('exit', (c) => reject(new Error(`${kind} server exited ${c}`)));
  });
}

async function load(o: autocannon.Options): Promise<Result> {
  const r = await autocannon({ duration: Number(process.env.BENCH_SECONDS ?? 5), connections: 32, ...o });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

/**
 * Open-loop load: request i leaves at start + i/rate whatever the earlier
 * answers did, and its latency counts from that scheduled moment, so a
 * stalled server is charged for every request it held up. (autocannon's
 * overallRate is not this: each connection sends its share of a second back
 * to back at the second's start, i.e. a burst of `connections` concurrent
 * requests that lasts until the share is done.)
 */
async function paced(url: string, rate: number, seconds: number, req: () => { path: string; headers: Record<string, string>; body: string }): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * seconds);
  const lat: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const start = performance.now() + 5;
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve) => {
    let sent = 0;
    let done = 0;
    const finish = (at: number, ok: boolean, status = 0) => {
      if (!ok) errors++;
      else if (status < 200 || status >= 300) non2xx++;
      else lat.push(performance.now() - at);
      if (++done === total) resolve();
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const at = start + (sent * 1000) / rate;
        const r = req();
        const body = Buffer.from(r.body);
        const cr = request({ agent, hostname, port, method: 'POST', path: r.path, headers: { ...r.headers, 'content-length': body.length } }, (res) => {
          res.resume();
          res.on('end', () => finish(at, true, res.statusCode ?? 0));
        });
        cr.on('error', () => finish(at, false));
        cr.end(body);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? Number.NaN;
  return { rps: lat.length / seconds, p50: q(0.5), p99: q(0.99), errors, non2xx };
}

const fmt = (r: Result) => `${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50.toFixed(1).padStart(5)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms${r.errors || r.non2xx ? `  (errors ${r.errors}, non-2xx ${r.non2xx})` : ''}`;

const bare = await server('bare');
const yun = await server('yun');
try {
  const auth = { authorization: `Bearer ${yun.token}`, 'content-type': 'application/json' };
  // warm up
  await load({ url: `${bare.url}/`, duration: 1 });
  await load({ url: `${yun.url}/v1/widgets?limit=10`, headers: auth, duration: 1 });
  let n = 0;
  const createReq = () => [{ method: 'POST' as const, path: '/v1/widgets', headers: auth, setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ name: `w-${process.pid}-${n++}`, labels: { bench: 'api' }, spec: { size: 1 } }) }) }];
  // seed some rows so the list has something to page
  await load({ url: yun.url, requests: createReq(), amount: 200, connections: 8 });

  const bareGet = await load({ url: `${bare.url}/` });
  const yunGet = await load({ url: `${yun.url}/v1/widgets?limit=10`, headers: auth });
  const barePost = await load({ url: `${bare.url}/`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', spec: { size: 1 } }) });
  const yunPost = await load({ url: yun.url, requests: createReq() });
  const bursts = await load({ url: yun.url, requests: createReq(), overallRate: 1000, connections: 64 });
  const open = await paced(yun.url, 1000, Number(process.env.BENCH_SECONDS ?? 5), () => ({
    path: '/v1/widgets', headers: auth, body: JSON.stringify({ name: `w-${process.pid}-${n++}`, labels: { bench: 'api' }, spec: { size: 1 } }),
  }));

  const out = [
    `bare fastify GET    ${fmt(bareGet)}`,
    `yun list (GET)      ${fmt(yunGet)}   ratio ${(yunGet.rps / bareGet.rps).toFixed(2)}× (target ≥ 0.5×)`,
    `bare fastify POST   ${fmt(barePost)}`,
    `yun create (POST)   ${fmt(yunPost)}   ratio ${(yunPost.rps / barePost.rps).toFixed(2)}× (target ≥ 0.3×)`,
    `yun create @1000/s  ${fmt(bursts)}   p99 target ≤ 20 ms (autocannon overallRate: per-second bursts, 64 at once)`,
    `yun create paced    ${fmt(open)}   p99 target ≤ 20 ms (open loop, one request every 1 ms)`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  bare.child.kill();
  yun.child.kill();
}
