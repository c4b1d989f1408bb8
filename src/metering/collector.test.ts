import assert from 'node:assert/strict';
import { type TestContext, after, before, describe, it } from 'node:test';
import type { OpenedStore } from '../store/index.ts';
import { requireCapability } from '../../test/helpers/capability.ts';
import { buildCatalogue, priceChanges } from './catalogue.ts';
import { Collector } from './collector.ts';
import { computeInvoices } from './invoices.ts';
import { listRecords } from './records.ts';
import { BufferedUsageSink, bucketBytesGauge, s3RequestClass } from './sink.ts';
import { History, TestClock, meteringStore } from './testing.ts';

const H = 3_600_000;

for (const engine of ['sqlite', 'postgres'] as const) describe(`collector (${engine})`, () => {
  let store: OpenedStore;
  let drop: (() => Promise<void>) | undefined;
  let unavailable = '';
  const clock = new TestClock(Date.parse('2026-11-01T00:00:00Z'));
  before(async () => {
    if (engine === 'sqlite') { store = await meteringStore(); return; }
    try {
      const { freshDatabase } = await import('../../test/helpers/postgres.ts');
      const db = await freshDatabase();
      drop = db.drop;
      store = await meteringStore(db.url);
    } catch (e) { unavailable = (e as Error).message; }
  });
  after(async () => { await store?.close(); await drop?.(); });
  const ok = (t: TestContext) => !unavailable || requireCapability(t, false, `PostgreSQL: ${unavailable}`);

  it('measures instance running time between state transitions, to the second, per hour', async (t) => {
    if (!ok(t)) return;
    const h = new History(store);
    const vm = await h.instance('p1', 'web', '2026-11-10T09:00:00Z', { vcpus: 2, ramMb: 4096, diskGb: 40 });
    await h.state(vm, 'starting', '2026-11-10T09:00:05Z');
    await h.state(vm, 'running', '2026-11-10T09:00:10Z', { driver: 'qemu' });
    await h.state(vm, 'stopped', '2026-11-10T11:30:40Z');
    await h.state(vm, 'running', '2026-11-10T12:00:00Z', { driver: 'qemu' });
    clock.set('2026-11-10T12:45:00Z');
    const c = new Collector({ store, now: clock.now });
    const r1 = await c.collect();
    assert.equal(r1.events, 5);
    const recs = await listRecords(store, 'p1', 0, Date.parse('2027-01-01'));
    const sum = (sku: string) => recs.filter((r) => r.sku === sku).reduce((s, r) => s + r.quantity, 0n);
    // running 09:00:10 → 11:30:40 = 9030 s; the open interval since 12:00 is not recorded before the hour ends
    assert.equal(sum('compute.vcpu:vm'), 2000n * 9030n);
    assert.equal(sum('compute.memory:vm'), 4096n * 9030n);
    assert.equal(sum('compute.stopped_disk'), 40n * 1760n);
    for (const r of recs) assert.equal(Math.floor(r.start / H), Math.floor((r.end - 1) / H), 'no record spans an hour');
    // the open interval shows as unbilled usage up to now
    const open = await c.openUsage('p1');
    assert.equal(open.filter((r) => r.sku === 'compute.vcpu:vm').reduce((s, r) => s + r.quantity, 0n), 2000n * 2700n);
    // an hour later the checkpoint records 12:00–13:00
    clock.set('2026-11-10T13:00:30Z');
    await c.collect();
    const recs2 = await listRecords(store, 'p1', 0, Date.parse('2027-01-01'));
    assert.equal(recs2.filter((r) => r.sku === 'compute.vcpu:vm').reduce((s, r) => s + r.quantity, 0n), 2000n * (9030n + 3600n));
  });

  it('is idempotent: a second pass adds nothing; a pass replayed after a lost watermark adds nothing', async (t) => {
    if (!ok(t)) return;
    const h = new History(store);
    const i = await h.instance('p2', 'api', '2026-11-11T08:00:00Z', { vcpus: 1, ramMb: 2048, diskGb: 20 });
    const snapWatermark = await store.all('SELECT * FROM metering_watermarks');
    const snapIntervals = await store.all('SELECT * FROM metering_intervals');
    const snapGauges = await store.all('SELECT * FROM metering_gauges');
    await h.state(i, 'running', '2026-11-11T08:00:01Z');
    await h.state(i, 'stopped', '2026-11-11T10:15:01Z');
    await h.remove(i, '2026-11-11T10:20:01Z');
    clock.set('2026-11-11T11:00:00Z');
    const c = new Collector({ store, now: clock.now });
    await c.collect();
    const count = async () => (await store.get<{ n: number; q: string }>('SELECT COUNT(*) AS n, CAST(SUM(quantity) AS TEXT) AS q FROM metering_records'))!;
    const first = await count();
    assert.equal((await c.collect()).records, 0);
    assert.deepEqual(await count(), first);
    // Simulated crash: the records were written but the watermark and intervals were lost
    // (restored from before the pass). Replaying the same history must change nothing.
    await store.run('DELETE FROM metering_watermarks');
    await store.run('DELETE FROM metering_intervals');
    await store.run('DELETE FROM metering_gauges');
    for (const w of snapWatermark as { name: string; value: number }[]) await store.run('INSERT INTO metering_watermarks (name, value) VALUES (?, ?)', [w.name, w.value]);
    for (const r of snapIntervals as Record<string, string | number>[]) {
      await store.run('INSERT INTO metering_intervals (resource_id, project, kind, name, labels, rates, since_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [r.resource_id!, r.project!, r.kind!, r.name!, r.labels!, r.rates!, r.since_ms!]);
    }
    assert.equal(snapGauges.length, 0);
    const replay = await new Collector({ store, now: clock.now }).collect();
    assert.ok(replay.events > 0);
    assert.equal(replay.records, 0);
    assert.deepEqual(await count(), first);
    const rolled = await store.get<{ q: string }>('SELECT CAST(SUM(quantity) AS TEXT) AS q FROM metering_daily');
    assert.equal(rolled!.q, first.q, 'the daily rollup holds exactly the records, even after the replay');
    const p2 = await listRecords(store, 'p2', 0, Date.parse('2027-01-01'));
    assert.equal(p2.filter((r) => r.sku === 'compute.vcpu:container').reduce((s, r) => s + r.quantity, 0n), 1000n * 8100n);
    assert.equal(p2.filter((r) => r.sku === 'compute.stopped_disk').reduce((s, r) => s + r.quantity, 0n), 20n * 300n);
  });

  it('clock going backwards yields no usage, never negative', async (t) => {
    if (!ok(t)) return;
    const h = new History(store);
    const i = await h.instance('p3', 'x', '2026-11-12T10:00:00Z', { vcpus: 1, ramMb: 512, diskGb: 1 });
    await h.state(i, 'running', '2026-11-12T10:00:00Z');
    await h.state(i, 'stopped', '2026-11-12T09:59:00Z'); // a host clock stepped back
    clock.set('2026-11-12T09:00:00Z');
    const c = new Collector({ store, now: clock.now });
    await c.collect();
    const recs = await listRecords(store, 'p3', 0, Date.parse('2027-01-01'));
    assert.ok(recs.every((r) => r.quantity > 0n && r.end > r.start));
    assert.equal(recs.filter((r) => r.sku.startsWith('compute.vcpu')).length, 0);
    assert.deepEqual(await c.openUsage('p3'), []);
  });

  it('gauges (bytes per bucket) and the usage sink', async (t) => {
    if (!ok(t)) return;
    const sink = new BufferedUsageSink();
    let bytes = 5_000_000_000; // 5 GB
    const gauge = bucketBytesGauge(async () => [{ project: 'p4', bucket: 'photos', bytes }]);
    clock.set('2026-11-20T10:30:00Z');
    const c = new Collector({ store, now: clock.now, sink, sinkId: 'h1', gauges: [gauge] });
    await c.collect(); // first sample only starts tracking
    sink.s3Request('p4', 'photos', 'PUT');
    sink.s3Request('p4', 'photos', 'GET', 'ListObjectsV2');
    sink.s3Request('p4', 'photos', 'GET', 'GetObject');
    sink.s3Request('p4', 'photos', 'HEAD');
    sink.dataOut('p4', { id: 'bucket:photos', kind: 'bucket', name: 'photos' }, 1234);
    sink.add({ project: 'p4', sku: 'network.data_out', quantity: -5, resource: { id: 'x', kind: 'x', name: 'x' } });
    assert.equal(sink.rejected, 1);
    clock.set('2026-11-20T12:00:00Z');
    bytes = 0;
    await c.collect();
    const recs = await listRecords(store, 'p4', 0, Date.parse('2027-01-01'));
    const sum = (sku: string) => recs.filter((r) => r.sku === sku).reduce((s, r) => s + r.quantity, 0n);
    assert.equal(sum('storage.object'), 0n, 'value sampled at the end (0) holds since the previous sample');
    assert.equal(sum('s3.requests:class-a'), 2n);
    assert.equal(sum('s3.requests:class-b'), 2n);
    assert.equal(sum('network.data_out'), 1234n);
    bytes = 5_000_000_000;
    await c.collect();
    clock.set('2026-11-20T14:00:00Z');
    await c.collect();
    const recs2 = await listRecords(store, 'p4', 0, Date.parse('2027-01-01'));
    const st = recs2.filter((r) => r.sku === 'storage.object');
    assert.equal(st.reduce((s, r) => s + r.quantity, 0n), 5000n * 7200n); // 5000 MB for 2 h
    assert.equal(st.length, 2, 'cut at the hour');
    assert.equal(s3RequestClass('POST'), 'class-a');
    assert.equal(s3RequestClass('PUT', 'CopyObject'), 'class-a');
  });

  it('cuts periods at a price change and invoices each side at its price; invoice = sum of lines', async (t) => {
    if (!ok(t)) return;
    const cat = buildCatalogue('x', 'regions:\n  default:\n    compute.vcpu:\n      - price: "0.02"\n      - { from: "2026-11-26T00:00:00Z", price: "0.04" }\n');
    const h = new History(store);
    const i = await h.instance('p5', 'batch', '2026-11-25T22:00:00Z', { vcpus: 4, ramMb: 1024, diskGb: 0 });
    await h.state(i, 'running', '2026-11-25T22:30:00Z');
    await h.state(i, 'stopped', '2026-11-26T01:30:00Z');
    clock.set('2026-11-26T02:00:00Z');
    await new Collector({ store, now: clock.now, cuts: () => priceChanges(cat) }).collect();
    const inv = (await computeInvoices(store, cat, '2026-11', { project: 'p5', now: clock.t })).get('p5')!;
    const vcpu = inv.lines.find((l) => l.sku === 'compute.vcpu:container')!;
    assert.equal(vcpu.quantity, '12'); // 4 vCPU × 3 h
    assert.equal(vcpu.amount, '0.36'); // 4 × 1.5 h × 0.02 + 4 × 1.5 h × 0.04
    const sumCents = inv.lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0);
    assert.equal(sumCents, Math.round(Number(inv.total) * 100));
  });
});
