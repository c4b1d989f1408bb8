import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SYSTEM_PROJECT } from '../core/resource.ts';
import { openStore } from '../store/index.ts';
import { coreMigrations } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { Scheduler, schedulerMigrations } from './placement.ts';
import { packWeigher } from './weighers.ts';

async function addHost(store: StateStore, name: string, o: { pool?: string; zone?: string; cpus?: number; memoryMb?: number; labels?: Record<string, string>; arch?: string } = {}) {
  const spec = { zone: o.zone ?? 'z1', pool: o.pool ?? 'p1', address: '10.0.0.1', hostLabels: o.labels ?? {}, capacity: { cpus: o.cpus ?? 4, memoryMb: o.memoryMb ?? 8192, diskGb: 100 },
    overcommit: { cpu: 4, ram: 1, disk: 1 }, drivers: ['oci'], arch: o.arch ?? 'x86_64' };
  const now = new Date().toISOString();
  await store.run(`INSERT INTO resources (id, kind, project, name, labels, spec, status, generation, resource_version, created_at, updated_at)
    VALUES (?, 'host', ?, ?, '{}', ?, '{}', 1, 1, ?, ?)`, [`host-${name}`, SYSTEM_PROJECT, name, JSON.stringify(spec), now, now]);
}

const req = (id: string, memoryMb = 1024, extra: Record<string, unknown> = {}) => ({ consumerId: id, amounts: { cpus: 1, memoryMb, diskGb: 1 }, ...extra });

describe('Scheduler', () => {
  let store: StateStore;
  before(async () => {
    store = await openStore('sqlite::memory:');
    await store.migrate([...coreMigrations, ...schedulerMigrations]);
    await addHost(store, 'a');
    await addHost(store, 'b');
    await addHost(store, 'c', { pool: 'p2', labels: { gpu: 'yes' }, arch: 'arm64' });
  });
  after(async () => { await store.close(); });

  it('spreads, is idempotent per consumer, and releases', async () => {
    const s = new Scheduler(store);
    await s.load();
    const x = await s.place(req('x', 1024, { pool: 'p1' }));
    const y = await s.place(req('y', 1024, { pool: 'p1' }));
    assert.notEqual(x.hostId, y.hostId, 'spread puts the second on the other host');
    assert.equal((await s.place(req('x', 1024, { pool: 'p1' }))).hostId, x.hostId);
    await s.release('x');
    await s.release('y');
    assert.equal((await store.get<{ n: number }>('SELECT COUNT(*) AS n FROM scheduler_allocations'))!.n, 0);
  });

  it('packs with the pack weigher', async () => {
    const s = new Scheduler(store, { weigher: packWeigher });
    await s.load();
    const a = await s.place(req('pa', 1024, { pool: 'p1' }));
    const b = await s.place(req('pb', 1024, { pool: 'p1' }));
    assert.equal(a.hostId, b.hostId);
    await s.release('pa');
    await s.release('pb');
  });

  it('names the filter that eliminated the last candidates', async () => {
    const s = new Scheduler(store);
    await s.load();
    await assert.rejects(s.place(req('n1', 1024, { pool: 'nope' })), /filter 'pool' eliminated the last 3/);
    await assert.rejects(s.place(req('n2', 1024, { pool: 'p1', arch: 'arm64' })), /filter 'image-arch' eliminated the last 2/);
    await assert.rejects(s.place(req('n3', 1024, { hostLabels: { gpu: 'no' } })), /filter 'host-labels'/);
    await assert.rejects(s.place(req('n4', 100_000)), /filter 'capacity' eliminated the last 3/);
    assert.equal((await s.place(req('n5', 1024, { hostLabels: { gpu: 'yes' }, arch: 'aarch64' }))).hostId, 'host-c');
    await s.release('n5');
  });

  it('anti-affinity puts group members on different hosts; affinity keeps them together', async () => {
    const s = new Scheduler(store);
    await s.load();
    const g = { key: 'prj/web', policy: 'anti-affinity' as const };
    const h1 = await s.place(req('g1', 512, { pool: 'p1', serverGroup: g }));
    const h2 = await s.place(req('g2', 512, { pool: 'p1', serverGroup: g }));
    assert.notEqual(h1.hostId, h2.hostId);
    await assert.rejects(s.place(req('g3', 512, { pool: 'p1', serverGroup: g })), /server-group-anti-affinity/);
    const a = { key: 'prj/db', policy: 'affinity' as const };
    const d1 = await s.place(req('d1', 512, { pool: 'p1', serverGroup: a }));
    const d2 = await s.place(req('d2', 512, { pool: 'p1', serverGroup: a }));
    assert.equal(d1.hostId, d2.hostId);
    for (const id of ['g1', 'g2', 'd1', 'd2']) await s.release(id);
  });

  it('a second scheduler (another replica) cannot overbook: the store re-checks every claim', async () => {
    const s1 = new Scheduler(store);
    const s2 = new Scheduler(store);
    await s1.load();
    await s2.load();
    // p2 has one host with 8192 MiB; both replicas think it is empty.
    const results = await Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) => s1.place(req(`r1-${i}`, 2048, { pool: 'p2' }))),
      ...Array.from({ length: 6 }, (_, i) => s2.place(req(`r2-${i}`, 2048, { pool: 'p2' }))),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
    const used = await store.get<{ m: number }>("SELECT SUM(memory_mb) AS m FROM scheduler_allocations WHERE host_id = 'host-c'");
    assert.equal(Number(used!.m), 8192);
  });

  it('resize re-checks the host and refuses with the reason', async () => {
    const s = new Scheduler(store);
    await s.load();
    await s.place(req('rz', 1024, { pool: 'p1' }));
    await store.tx(async (q) => { await s.checkResize(q, 'rz', { cpus: 2, memoryMb: 4096, diskGb: 1 }); });
    await assert.rejects(store.tx((q) => s.checkResize(q, 'rz', { cpus: 2, memoryMb: 9000, diskGb: 1 })), /has no room for the new size/);
  });
});
