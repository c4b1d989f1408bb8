/**
 * S3 benchmark: yun vs a bare node:http+fs floor vs s3rver, interleaved
 * rounds, medians and ratios from the same run.
 *   node --import tsx bench/s3/run.ts [--rounds 3] [--seconds 3] [--big-mib 256]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_KEY, type Client, createClient, S3RVER_KEY } from './client.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const ROUNDS = arg('rounds', 3);
const SECONDS = arg('seconds', 3);
const BIG = arg('big-mib', 256) * 1024 * 1024;
const CONC = 32;
const SMALL = 4096;
const here = new URL('.', import.meta.url).pathname;
const TICK_MS = 10; // /proc clock ticks (USER_HZ = 100)

interface Srv { kind: string; child: ChildProcess; client: Client; dir: string }

async function startServer(kind: string): Promise<Srv> {
  const dir = mkdtempSync(join(tmpdir(), `yun-bench-${kind}-`));
  // Same libuv pool size for every server: fsync-heavy servers need more than the default 4.
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'servers.ts'), kind, dir], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, UV_THREADPOOL_SIZE: '16' } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; const m = /READY (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.once('exit', (c) => reject(new Error(`${kind} exited ${c}`)));
  });
  const client = createClient(`http://127.0.0.1:${port}`, kind.startsWith('yun') ? BENCH_KEY : kind === 's3rver' ? S3RVER_KEY : undefined);
  await client.put('/bench', Buffer.alloc(0));
  return { kind, child, client, dir };
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) * TICK_MS;
}

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

async function bigPut(s: Srv, body: Buffer) { const t = performance.now(); await s.client.put('/bench/big', body); return body.length / 1048576 / ((performance.now() - t) / 1000); }
async function bigGet(s: Srv) { const t = performance.now(); const n = await s.client.get('/bench/big'); return n / 1048576 / ((performance.now() - t) / 1000); }

async function smallOps(s: Srv, op: 'put' | 'get', bodies: Buffer[]): Promise<{ opsPerSec: number; cpuPerOp: number }> {
  const pid = s.child.pid!;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let ops = 0;
  await Promise.all(Array.from({ length: CONC }, async (_, w) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const key = `/bench/small/${w}-${i % 64}`;
      if (op === 'put') await s.client.put(key, bodies[(w + i) % bodies.length]!);
      else await s.client.get(key);
      ops++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { opsPerSec: ops / secs, cpuPerOp: (cpuMs(pid) - cpu0) / ops };
}

async function main() {
  const kinds = ['floor', 'yun', 'yun-nofsync', 's3rver'];
  const servers: Srv[] = [];
  for (const k of kinds) servers.push(await startServer(k));
  const big = randomBytes(BIG);
  const bodies = Array.from({ length: 16 }, () => randomBytes(SMALL));
  const r: Record<string, Record<string, number[]>> = {};
  const rec = (k: string, m: string, v: number) => { r[k] ??= {}; (r[k]![m] ??= []).push(v); };
  try {
    // Seed the small-object key space so GETs hit.
    for (const s of servers) for (let w = 0; w < CONC; w++) for (let i = 0; i < 64; i++) await s.client.put(`/bench/small/${w}-${i}`, bodies[0]!);
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of servers) {
        // Write back what the previous (non-durable) server left dirty, so it is not flushed on this one's clock.
        spawnSync('sync');
        if (s.kind !== 's3rver') {
          rec(s.kind, 'bigPutMiBs', await bigPut(s, big));
          rec(s.kind, 'bigGetMiBs', await bigGet(s));
        }
        const p = await smallOps(s, 'put', bodies);
        rec(s.kind, 'putOps', p.opsPerSec); rec(s.kind, 'putCpuMs', p.cpuPerOp);
        const g = await smallOps(s, 'get', bodies);
        rec(s.kind, 'getOps', g.opsPerSec); rec(s.kind, 'getCpuMs', g.cpuPerOp);
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    for (const s of servers) { s.client.close(); s.child.kill('SIGKILL'); rmSync(s.dir, { recursive: true, force: true }); }
  }
  const m = (k: string, x: string) => median(r[k]?.[x] ?? [Number.NaN]);
  const f = (n: number, d = 1) => n.toFixed(d);
  console.log(`S3 benchmark — ${ROUNDS} interleaved rounds, medians; ${BIG / 1048576} MiB objects; ${SMALL} B objects at ${CONC} concurrency for ${SECONDS}s`);
  console.log('floor = node:http + fs with a durable PUT (temp file, fdatasync, rename, directory fsync), like yun; s3rver never fsyncs');
  console.log(`256 MiB PUT  MiB/s: yun ${f(m('yun', 'bigPutMiBs'))}  floor ${f(m('floor', 'bigPutMiBs'))}  ratio ${f(m('yun', 'bigPutMiBs') / m('floor', 'bigPutMiBs'), 2)} (target ≥ 0.8)`);
  console.log(`256 MiB GET  MiB/s: yun ${f(m('yun', 'bigGetMiBs'))}  floor ${f(m('floor', 'bigGetMiBs'))}  ratio ${f(m('yun', 'bigGetMiBs') / m('floor', 'bigGetMiBs'), 2)} (target ≥ 0.7)`);
  console.log(`  (yun without blob fsync: PUT ${f(m('yun-nofsync', 'bigPutMiBs'))} MiB/s, GET ${f(m('yun-nofsync', 'bigGetMiBs'))} MiB/s)`);
  for (const op of ['put', 'get'] as const) {
    const y = m('yun', `${op}Ops`);
    console.log(`4 KiB ${op.toUpperCase()} ops/s: yun ${f(y, 0)}  floor ${f(m('floor', `${op}Ops`), 0)}  s3rver ${f(m('s3rver', `${op}Ops`), 0)}  yun/floor ${f(y / m('floor', `${op}Ops`), 2)} (target ≥ ${op === 'get' ? '0.6' : '0.5'})  yun/s3rver ${f(y / m('s3rver', `${op}Ops`), 2)} (target ≥ 2)`);
    console.log(`4 KiB ${op.toUpperCase()} server CPU-ms/op: yun ${f(m('yun', `${op}CpuMs`), 3)}  floor ${f(m('floor', `${op}CpuMs`), 3)}  s3rver ${f(m('s3rver', `${op}CpuMs`), 3)}`);
    console.log(`  (yun without blob fsync: ${f(m('yun-nofsync', `${op}Ops`), 0)} ops/s, ${f(m('yun-nofsync', `${op}CpuMs`), 3)} CPU-ms/op)`);
  }
}

await main();
