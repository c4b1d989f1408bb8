/**
 * Scheduler concurrency through the API: 100 parallel creates against
 * simulated hosts with tight capacity. No host ends above capacity ×
 * overcommit, the claims table agrees, and the losers say which filter
 * eliminated the last hosts. Uses the fake driver (no workloads run on
 * simulated hosts anyway).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireCapability } from '../helpers/capability.ts';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { PostgresUnavailable, freshDatabase } from '../helpers/postgres.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from './helpers.ts';

for (const engine of ['sqlite', 'postgres'] as const) describe(`scheduler: concurrent placement against tight capacity (${engine})`, () => {
  let cc: ComputeCloud;
  const fake = new FakeHost();
  let drop: (() => Promise<void>) | undefined;
  let missing: string | undefined;
  before(async () => {
    let store: string | undefined;
    if (engine === 'postgres') {
      try {
        const db = await freshDatabase();
        store = db.url;
        drop = db.drop;
      } catch (e) {
        if (!(e instanceof PostgresUnavailable)) throw e;
        missing = `PostgreSQL unavailable: ${e.message}`;
        return;
      }
    }
    cc = await startComputeCloud({ store, compute: { driver: new FakeDriver({ host: fake }) } });
    await buildImage(cc.c, 'busybox', 'busybox');
    for (const [k, v] of Object.entries({ instances: 1000, vcpus: 1000, ram_mb: 10_000_000 })) await cc.c.request('PUT', `/v1/quotas/${k}`, { body: { limit: v } });
    for (let i = 0; i < 5; i++) {
      await cc.c.request('POST', '/v1/hosts', { body: { name: `sim-${i}`, spec: {
        zone: 'z1', pool: 'sim', address: `10.0.0.${i}`, hostLabels: { rack: i < 3 ? 'a' : 'b' },
        capacity: { cpus: 2, memoryMb: 4096, diskGb: 100 }, overcommit: { cpu: 4, ram: 1, disk: 1 }, drivers: ['fake'], arch: 'amd64' } } });
    }
  });
  after(async () => { await cc?.stop(); fake.shutdown(); await drop?.(); });

  it('100 parallel creates never overbook a host', async (t) => {
    if (!requireCapability(t, !missing, missing ?? '')) return;
    // each asks 1 vCPU / 512 MiB: RAM allows 8 per host → 40 fit in the pool
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      cc.c.request('POST', '/v1/instances', { body: { name: `c${i}`, spec: { image: 'busybox', cpus: 1, memoryMb: 512, pool: 'sim' } } })
        .then(() => 'ok', (e: Error) => e.message)));
    assert.equal(results.filter((r) => r === 'ok').length, 100, `creates accepted: ${results.find((r) => r !== 'ok')}`);
    const deadline = Date.now() + 30_000;
    let items: { name: string; status: Record<string, unknown> }[] = [];
    for (;;) {
      items = (await cc.c.resource('instances').listAll()) as typeof items;
      if (items.every((r) => r.status.state !== 'pending') || Date.now() > deadline) break;
      await new Promise((x) => setTimeout(x, 100));
    }
    const placed = items.filter((r) => r.status.state === 'scheduled');
    const failed = items.filter((r) => r.status.state === 'error');
    assert.equal(placed.length, 40, `placed ${placed.length}`);
    assert.equal(failed.length, 60);
    for (const f of failed) assert.match(String(f.status.reason), /filter 'capacity' eliminated the last 5 candidate/);
    const pools = (await cc.c.request<{ items: { name: string; allocated: { memoryMb: number; cpus: number }; allocatable: { memoryMb: number; cpus: number } }[] }>('GET', '/v1/pools')).items;
    const sim = pools.find((p) => p.name === 'sim')!;
    assert.equal(sim.allocated.memoryMb, 40 * 512);
    const rows = await cc.tc.cloud.ctx.store.all<{ host_id: string; m: number; c: number }>('SELECT host_id, SUM(memory_mb) AS m, SUM(cpus) AS c FROM scheduler_allocations GROUP BY host_id');
    for (const r of rows) {
      assert.ok(Number(r.m) <= 4096, `host ${r.host_id} holds ${r.m} MiB > 4096`);
      assert.ok(Number(r.c) <= 8, `host ${r.host_id} holds ${r.c} vCPU > 2 × 4.0`);
    }
    const perHost = new Map<string, number>();
    for (const p of placed) perHost.set(String(p.status.host), (perHost.get(String(p.status.host)) ?? 0) + 1);
    assert.deepEqual([...perHost.values()].sort(), [8, 8, 8, 8, 8]);
  });

  it('filters: pool and host labels name themselves; anti-affinity spreads a server group', async (t) => {
    if (!requireCapability(t, !missing, missing ?? '')) return;
    await cc.c.request('POST', '/v1/instances', { body: { name: 'nopool', spec: { image: 'busybox', cpus: 1, memoryMb: 16, pool: 'nowhere' } } });
    await cc.c.request('POST', '/v1/server-groups', { body: { name: 'spread', spec: { policy: 'anti-affinity' } } });
    // Free one slot on each of two hosts: delete a placed instance per host. (Which of the
    // 100 won depends on the store's transaction order, so pick them from what was placed.)
    const placed = (await cc.c.resource('instances').listAll()).filter((r) => r.status.state === 'scheduled' && r.name.startsWith('c'));
    const victims = [...new Map(placed.map((r) => [String(r.status.host), r.name])).values()].slice(0, 2);
    assert.equal(victims.length, 2);
    for (const v of victims) await cc.c.request('DELETE', `/v1/instances/${v}`);
    // Capacity returns when the finalizer has run, not when DELETE answers: wait until they are gone.
    for (const v of victims) {
      const end = Date.now() + 20_000;
      while (Date.now() < end && await cc.c.request('GET', `/v1/instances/${v}`).then(() => true, () => false)) await new Promise((r) => setTimeout(r, 100));
    }
    const st = async (n: string) => (await cc.c.resource('instances').waitFor(n, (r) => r.status.state !== 'pending', 10_000)).status;
    assert.match(String((await st('nopool')).reason), /filter 'pool'/);
    await cc.c.request('POST', '/v1/instances', { body: { name: 'lbl', spec: { image: 'busybox', cpus: 1, memoryMb: 16, pool: 'sim', hostLabels: { rack: 'zzz' } } } });
    assert.match(String((await st('lbl')).reason), /filter 'host-labels'/);
    // anti-affinity: members land on different hosts (3 rooms were freed on some hosts above)
    for (let i = 0; i < 2; i++) await cc.c.request('POST', '/v1/instances', { body: { name: `aa${i}`, spec: { image: 'busybox', cpus: 1, memoryMb: 16, pool: 'sim', serverGroup: 'spread' } } });
    const a0 = await st('aa0');
    const a1 = await st('aa1');
    assert.equal(a0.state, 'scheduled');
    assert.equal(a1.state, 'scheduled');
    assert.notEqual(a0.host, a1.host);
  });
});
