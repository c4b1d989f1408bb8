/**
 * Metering benchmark, each figure beside a raw baseline measured in the same run:
 *
 *  1. ingestion: usage records through `insertRecords` (keyed, ON CONFLICT DO
 *     NOTHING) vs a plain multi-row INSERT into an unkeyed table;
 *  2. invoices: one project with 100k records, and every invoice of a month of
 *     1,000,000 records over 1,000 projects (rating, tiers, line items) vs a
 *     raw SELECT … SUM(quantity) GROUP BY over the same rows;
 *  3. cost explorer: p95 of a month's by-day query for one project.
 *
 * SQLite (file, WAL) always; PostgreSQL too when one is reachable (see
 * test/helpers/postgres.ts) unless BENCH_PG=0. BENCH_RECORDS scales part 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalogue } from '../../src/metering/catalogue.ts';
import { explore } from '../../src/metering/explorer.ts';
import { computeInvoices } from '../../src/metering/invoices.ts';
import { meteringMigrations } from '../../src/metering/migrations.ts';
import { type UsageRecord, insertRecords } from '../../src/metering/records.ts';
import { type OpenedStore, openStore } from '../../src/store/index.ts';
import { coreMigrations } from '../../src/store/resources.ts';
import type { SqlValue } from '../../src/store/types.ts';

const H = 3_600_000;
const MONTH = '2026-10';
const M0 = Date.UTC(2026, 9, 1);
const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const cat = buildCatalogue('bench');
const SKUS = ['compute.vcpu:container', 'compute.memory:container', 'compute.vcpu:vm', 'storage.object', 'network.data_out'];

/** Records of `projects` projects, 10 resources each, hourly, `perProject` records per project. */
function* records(projects: number, perProject: number, prefix: string): Generator<UsageRecord> {
  for (let p = 0; p < projects; p++) {
    for (let i = 0; i < perProject; i++) {
      const res = i % 10;
      const hour = Math.floor(i / 10) % (24 * 31);
      const sku = SKUS[(Math.floor(i / 10 / (24 * 31)) + res) % SKUS.length]!;
      yield {
        project: `${prefix}${p}`, sku, resourceId: `i-${p}-${res}`, resourceKind: 'instance', resourceName: `vm${res}`, labels: { team: `t${res % 3}` },
        quantity: BigInt(1000 + ((i * 7919) % 3_600_000)), start: M0 + hour * H + Math.floor(i / (10 * 24 * 31)), end: M0 + (hour + 1) * H, source: 'bench',
      };
    }
  }
}

async function ingest(store: OpenedStore, gen: Generator<UsageRecord>, batch = 5000): Promise<{ n: number; ms: number }> {
  const t = performance.now();
  let buf: UsageRecord[] = [];
  let n = 0;
  for (const r of gen) {
    buf.push(r);
    if (buf.length === batch) { const b = buf; n += await store.tx((q) => insertRecords(q, b)); buf = []; }
  }
  if (buf.length) { const b = buf; n += await store.tx((q) => insertRecords(q, b)); }
  return { n, ms: performance.now() - t };
}

async function ingestRaw(store: OpenedStore, gen: Generator<UsageRecord>, batch = 5000): Promise<{ n: number; ms: number }> {
  const t = performance.now();
  let buf: UsageRecord[] = [];
  let n = 0;
  const flush = async (rows: UsageRecord[]) => store.tx(async (q) => {
    for (let i = 0; i < rows.length; i += 80) {
      const part = rows.slice(i, i + 80);
      const params: SqlValue[] = part.flatMap((r) => [r.project, r.sku, r.resourceId, r.quantity.toString(), r.start]);
      await q.run(`INSERT INTO bench_raw (project, sku, resource_id, quantity, start_ms) VALUES ${part.map(() => '(?, ?, ?, CAST(? AS BIGINT), ?)').join(', ')}`, params);
    }
    n += rows.length;
  });
  for (const r of gen) {
    buf.push(r);
    if (buf.length === batch) { await flush(buf); buf = []; }
  }
  if (buf.length) await flush(buf);
  return { n, ms: performance.now() - t };
}

const rawSum = async (store: OpenedStore, project?: string) => {
  const t = performance.now();
  const rows = await store.all(`SELECT project, sku, resource_id, CAST(SUM(quantity) AS TEXT) AS q FROM bench_raw WHERE start_ms >= ? AND start_ms < ?${project ? ' AND project = ?' : ''} GROUP BY 1, 2, 3`,
    project ? [M0, Date.UTC(2026, 10, 1), project] : [M0, Date.UTC(2026, 10, 1)]);
  return { rows: rows.length, ms: performance.now() - t };
};

const fmt = (ms: number) => `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} records/s`;

async function runOn(label: string, store: OpenedStore): Promise<void> {
  await store.migrate([...coreMigrations, ...meteringMigrations]);
  await store.run('CREATE TABLE bench_raw (project TEXT NOT NULL, sku TEXT NOT NULL, resource_id TEXT NOT NULL, quantity BIGINT NOT NULL, start_ms BIGINT NOT NULL)');
  await store.run('CREATE INDEX bench_raw_project ON bench_raw(project, start_ms)');
  await store.run('CREATE INDEX bench_raw_start ON bench_raw(start_ms)');
  process.stdout.write(`\n-- ${label}\n`);

  // 1 + 2a: one project, 100k records
  const a = await ingest(store, records(1, 100_000, 'solo'));
  const ar = await ingestRaw(store, records(1, 100_000, 'solo'));
  process.stdout.write(`ingest 100k records (1 project): metering ${rate(a.n, a.ms)} (${fmt(a.ms)}) | raw INSERT ${rate(ar.n, ar.ms)} (${fmt(ar.ms)})\n`);
  const again = await ingest(store, records(1, 100_000, 'solo'));
  process.stdout.write(`re-ingest the same 100k (idempotent): ${again.n} new rows in ${fmt(again.ms)}\n`);
  let t = performance.now();
  const inv = (await computeInvoices(store, cat, MONTH, { project: 'solo0', now: Date.UTC(2026, 11, 1) })).get('solo0')!;
  const invMs = performance.now() - t;
  const rs = await rawSum(store, 'solo0');
  process.stdout.write(`invoice of 1 project / 100k records: ${fmt(invMs)} (${inv.lines.length} lines, total ${inv.total} ${inv.currency}) | raw SUM GROUP BY ${fmt(rs.ms)} (${rs.rows} rows)\n`);

  // 1 + 2b: 1,000 projects, TOTAL records
  const per = Math.max(1, Math.floor(TOTAL / 1000));
  const b = await ingest(store, records(1000, per, 'p'));
  const br = await ingestRaw(store, records(1000, per, 'p'));
  process.stdout.write(`ingest ${b.n.toLocaleString('en-US')} records (1,000 projects): metering ${rate(b.n, b.ms)} | raw INSERT ${rate(br.n, br.ms)}\n`);
  t = performance.now();
  const all = await computeInvoices(store, cat, MONTH, { now: Date.UTC(2026, 11, 1) });
  const allMs = performance.now() - t;
  const rsAll = await rawSum(store);
  process.stdout.write(`all invoices of ${MONTH}: ${all.size} projects / ${(b.n + a.n).toLocaleString('en-US')} records in ${fmt(allMs)} | raw SUM GROUP BY ${fmt(rsAll.ms)} (${rsAll.rows} rows)\n`);

  // 3: explorer p95 by day for one project over the month
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    t = performance.now();
    await explore(store, cat, { project: `p${i % 1000}`, since: M0, until: Date.UTC(2026, 10, 1), groupBy: 'day', now: Date.UTC(2026, 11, 1) });
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  t = performance.now();
  await explore(store, cat, { since: M0, until: Date.UTC(2026, 10, 1), groupBy: 'service', now: Date.UTC(2026, 11, 1) });
  const allExp = performance.now() - t;
  process.stdout.write(`cost explorer, 1 project by day over a month: p50 ${fmt(times[10]!)}, p95 ${fmt(times[18]!)}; all projects by service: ${fmt(allExp)}\n`);
}

const dir = await mkdtemp(join(tmpdir(), 'yun-bench-metering-'));
try {
  const s = await openStore(`sqlite:${join(dir, 'bench.db')}`, { sqlite: { synchronous: 'NORMAL' } });
  try { await runOn('SQLite (file, WAL, synchronous=NORMAL)', s); } finally { await s.close(); }
  if (process.env.BENCH_PG !== '0') {
    let db: { url: string; drop(): Promise<void> } | undefined;
    try {
      const { freshDatabase } = await import('../../test/helpers/postgres.ts');
      db = await freshDatabase();
    } catch (e) {
      process.stdout.write(`\n-- PostgreSQL: skipped (${(e as Error).message})\n`);
    }
    if (db) {
      const pgs = await openStore(db.url);
      try { await runOn('PostgreSQL', pgs); } finally { await pgs.close(); await db.drop(); }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
