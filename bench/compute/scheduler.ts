/**
 * Scheduler placement throughput on simulated pools of 500, 5,000 and
 * 10,000 hosts (no workloads): every placement chooses in memory and claims
 * in the store (SQLite, claims batched per transaction).
 * Targets: ≥ 10,000 placements/s at 10,000 hosts; per-placement time at
 * 10,000 hosts ≤ 3× that at 500.
 *   node --import tsx bench/compute/scheduler.ts [placements=20000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler, schedulerMigrations } from '../../src/scheduler/placement.ts';
import { SYSTEM_PROJECT } from '../../src/core/resource.ts';
import { openStore } from '../../src/store/index.ts';
import { coreMigrations } from '../../src/store/resources.ts';

const N = Number(process.argv[2] ?? 20_000);

async function run(hosts: number): Promise<{ perSec: number; usPer: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'yun-bench-sched-'));
  const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
  try {
    await store.migrate([...coreMigrations, ...schedulerMigrations]);
    const now = new Date().toISOString();
    await store.tx(async (q) => {
      for (let i = 0; i < hosts; i++) {
        const spec = { zone: `z${i % 3}`, pool: `pool-${i % 10}`, address: '10.0.0.1', hostLabels: {}, capacity: { cpus: 64, memoryMb: 262144, diskGb: 4000 },
          overcommit: { cpu: 4, ram: 1, disk: 1 }, drivers: ['oci'], arch: 'amd64' };
        await q.run(`INSERT INTO resources (id, kind, project, name, labels, spec, status, generation, resource_version, created_at, updated_at)
          VALUES (?, 'host', ?, ?, '{}', ?, '{}', 1, 1, ?, ?)`, [`host-${i}`, SYSTEM_PROJECT, `h${i}`, JSON.stringify(spec), now, now]);
      }
    });
    const s = new Scheduler(store);
    await s.load();
    // warm-up
    await Promise.all(Array.from({ length: 500 }, (_, i) => s.place({ consumerId: `w${i}`, amounts: { cpus: 1, memoryMb: 512, diskGb: 10 }, pool: `pool-${i % 10}` })));
    const t0 = process.hrtime.bigint();
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) ps.push(s.place({ consumerId: `c${i}`, amounts: { cpus: 1, memoryMb: 512, diskGb: 10 }, pool: `pool-${i % 10}` }));
    await Promise.all(ps);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const rows = await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM scheduler_allocations');
    if (Number(rows?.n) !== N + 500) throw new Error(`expected ${N + 500} claims, found ${rows?.n}`);
    return { perSec: N / sec, usPer: (sec * 1e6) / N };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: Record<number, { perSec: number; usPer: number }> = {};
for (const h of [500, 5000, 10000]) {
  results[h] = await run(h);
  console.log(`${String(h).padStart(6)} hosts: ${Math.round(results[h]!.perSec).toLocaleString('en')} placements/s, ${results[h]!.usPer.toFixed(1)} µs/placement (${N} placements, claims in the store)`);
}
const ratio = results[10000]!.usPer / results[500]!.usPer;
console.log(`per-placement time 10,000 vs 500 hosts: ${ratio.toFixed(2)}× (target ≤ 3×) ${ratio <= 3 ? 'OK' : 'MISSED'}`);
console.log(`throughput at 10,000 hosts: ${Math.round(results[10000]!.perSec).toLocaleString('en')}/s (target ≥ 10,000/s) ${results[10000]!.perSec >= 10000 ? 'OK' : 'MISSED'}`);
