/**
 * API benchmark: authenticated list (GET) and create (POST) through yun vs
 * a bare Fastify hello world on the same machine, same run. Targets (issue
 * 2): GET ≥ 0.5× and create ≥ 0.3× the bare server's requests/s; create p99
 * ≤ 20 ms at 1,000 req/s.
 */
import { type ChildProcess, fork } from 'node:child_process';
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
  const paced = await load({ url: yun.url, requests: createReq(), overallRate: 1000, connections: 64 });

  const out = [
    `bare fastify GET    ${fmt(bareGet)}`,
    `yun list (GET)      ${fmt(yunGet)}   ratio ${(yunGet.rps / bareGet.rps).toFixed(2)}× (target ≥ 0.5×)`,
    `bare fastify POST   ${fmt(barePost)}`,
    `yun create (POST)   ${fmt(yunPost)}   ratio ${(yunPost.rps / barePost.rps).toFixed(2)}× (target ≥ 0.3×)`,
    `yun create @1000/s  ${fmt(paced)}   p99 target ≤ 20 ms`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  bare.child.kill();
  yun.child.kill();
}
