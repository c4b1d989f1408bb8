/**
 * Usage records: immutable, one per (sku, resource, period start, source).
 * The key makes collection idempotent — writing the same record twice (a
 * re-run after a crash, two collectors) inserts it once.
 */
import type { Sql, SqlValue } from '../store/types.ts';

export interface UsageRecord {
  project: string;
  sku: string;
  resourceId: string;
  resourceKind: string;
  resourceName: string;
  labels: Record<string, string>;
  /** Integer base units of the sku's meter (see meters.ts). */
  quantity: bigint;
  /** Period [start, end), epoch ms. */
  start: number;
  end: number;
  /** What produced it: `events`, `gauge`, `sink:<id>`. */
  source: string;
}

export const recordKey = (r: Pick<UsageRecord, 'sku' | 'resourceId' | 'start' | 'source'>): string =>
  `${r.sku}|${r.resourceId}|${r.start}|${r.source}`;

const COLS = 'record_key, project, sku, resource_id, resource_kind, resource_name, labels, quantity, start_ms, end_ms, source, created_ms';

const DAY = 86_400_000;

/**
 * Inserts records, skipping any already present, and adds the new ones to
 * the daily rollup; returns how many were new. Call inside a transaction
 * (`store.tx`) so records and rollup commit together.
 */
export async function insertRecords(q: Sql, records: readonly UsageRecord[], now = Date.now()): Promise<number> {
  const added: UsageRecord[] = [];
  for (let i = 0; i < records.length; i += 80) {
    const batch = records.slice(i, i + 80).filter((r) => r.quantity > 0n);
    if (batch.length === 0) continue;
    const params: SqlValue[] = [];
    for (const r of batch) {
      params.push(recordKey(r), r.project, r.sku, r.resourceId, r.resourceKind, r.resourceName, JSON.stringify(r.labels),
        r.quantity.toString(), r.start, r.end, r.source, now);
    }
    const ph = batch.map(() => '(?, ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, ?)').join(', ');
    const rows = await q.all<{ record_key: string }>(`INSERT INTO metering_records (${COLS}) VALUES ${ph} ON CONFLICT (record_key) DO NOTHING RETURNING record_key`, params);
    if (rows.length === batch.length) added.push(...batch);
    else if (rows.length) {
      const keys = new Set(rows.map((r) => r.record_key));
      added.push(...batch.filter((r) => keys.has(recordKey(r))));
    }
  }
  await addToRollup(q, added);
  return added.length;
}

async function addToRollup(q: Sql, recs: readonly UsageRecord[]): Promise<void> {
  const sums = new Map<string, { r: UsageRecord; day: number; labels: string; quantity: bigint; first: number }>();
  for (const r of recs) {
    const day = Math.floor(r.start / DAY);
    const labels = JSON.stringify(r.labels);
    const k = `${r.project}\u0000${r.sku}\u0000${r.resourceId}\u0000${day}\u0000${labels}`;
    const cur = sums.get(k);
    if (cur) { cur.quantity += r.quantity; cur.first = Math.min(cur.first, r.start); }
    else sums.set(k, { r, day, labels, quantity: r.quantity, first: r.start });
  }
  const all = [...sums.values()];
  for (let i = 0; i < all.length; i += 100) {
    const part = all.slice(i, i + 100);
    const params: SqlValue[] = part.flatMap((s) => [s.r.project, s.r.sku, s.r.resourceId, s.day, s.labels, s.r.resourceKind, s.r.resourceName, s.quantity.toString(), s.first]);
    await q.run(`INSERT INTO metering_daily (project, sku, resource_id, day, labels, resource_kind, resource_name, quantity, first_ms)
      VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), ?)').join(', ')}
      ON CONFLICT (project, sku, resource_id, day, labels) DO UPDATE SET quantity = metering_daily.quantity + excluded.quantity,
        first_ms = CASE WHEN excluded.first_ms < metering_daily.first_ms THEN excluded.first_ms ELSE metering_daily.first_ms END,
        resource_name = excluded.resource_name`, params);
  }
}

interface RecordRow {
  project: string; sku: string; resource_id: string; resource_kind: string; resource_name: string; labels: string;
  quantity: number | string | bigint; start_ms: number | string; end_ms: number | string; source: string;
}

export const toBig = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v ?? 0)));

export const fromRecordRow = (r: RecordRow): UsageRecord => ({
  project: r.project, sku: r.sku, resourceId: r.resource_id, resourceKind: r.resource_kind, resourceName: r.resource_name,
  labels: JSON.parse(r.labels), quantity: toBig(r.quantity), start: Number(r.start_ms), end: Number(r.end_ms), source: r.source,
});

/** Records of a project whose period starts in [from, to), oldest first. */
export async function listRecords(q: Sql, project: string | undefined, from: number, to: number): Promise<UsageRecord[]> {
  const rows = project === undefined
    ? await q.all<RecordRow>('SELECT * FROM metering_records WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms, record_key', [from, to])
    : await q.all<RecordRow>('SELECT * FROM metering_records WHERE project = ? AND start_ms >= ? AND start_ms < ? ORDER BY start_ms, record_key', [project, from, to]);
  return rows.map(fromRecordRow);
}

export async function getWatermark(q: Sql, name: string): Promise<number | undefined> {
  const r = await q.get<{ value: number | string }>('SELECT value FROM metering_watermarks WHERE name = ?', [name]);
  return r ? Number(r.value) : undefined;
}

export async function setWatermark(q: Sql, name: string, value: number): Promise<void> {
  await q.run('INSERT INTO metering_watermarks (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
}
