/**
 * Reads usage for rating: sums records in SQL by (project, sku, resource
 * [, labels][, day], segment), where segments are cut at month starts and
 * price changes, so each summed row has one month and one price version.
 * Then rates the rows in a fixed order through one `Rater`.
 */
import type { Sql, SqlValue } from '../store/types.ts';
import { type PriceCatalogue, priceChanges } from './catalogue.ts';
import type { Rater } from './rating.ts';
import { type UsageRecord, toBig } from './records.ts';
import type { Micro } from './money.ts';

export const DAY = 86_400_000;

export interface AggRow {
  project: string;
  sku: string;
  resourceId: string;
  resourceKind: string;
  resourceName: string;
  /** JSON text; `{}` unless labels were asked for. */
  labels: string;
  /** UTC day number (ms / DAY); 0 unless days were asked for. */
  day: number;
  seg: number;
  quantity: bigint;
  /** Earliest period start in the row. */
  at: number;
  /** True for usage of still-open intervals (not yet recorded). */
  unbilled?: boolean;
}

export interface RatedRow extends AggRow { cost: Micro }

export const monthStart = (ms: number): number => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1); };
export const nextMonth = (ms: number): number => { const d = new Date(ms); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1); };

/** Month starts and price changes strictly inside (from, to). */
export function segmentCuts(cat: PriceCatalogue, from: number, to: number): number[] {
  const s = new Set<number>(priceChanges(cat).filter((c) => c > from && c < to));
  for (let m = nextMonth(from); m < to; m = nextMonth(m)) s.add(m);
  return [...s].sort((a, b) => a - b);
}

const segOf = (cuts: number[], t: number): number => { let i = 0; while (i < cuts.length && t >= cuts[i]!) i++; return i; };

export interface AggregateOptions { project?: string; from: number; to: number; labels?: boolean; day?: boolean }

/**
 * Sums the daily rollup over the whole UTC days covering [from, to). Rows
 * carry their first record's start as `at`; callers filtering by time get
 * day granularity.
 */
export async function aggregate(q: Sql, cat: PriceCatalogue, o: AggregateOptions): Promise<AggRow[]> {
  const fromDay = Math.floor(o.from / DAY);
  const toDay = Math.ceil(o.to / DAY);
  const cuts = segmentCuts(cat, fromDay * DAY, toDay * DAY).map((c) => Math.ceil(c / DAY));
  const params: SqlValue[] = [];
  const seg = cuts.length ? `CASE ${cuts.map((c, i) => { params.push(c); return `WHEN day < ? THEN ${i}`; }).join(' ')} ELSE ${cuts.length} END` : '0';
  params.push(fromDay, toDay);
  if (o.project !== undefined) params.push(o.project);
  // Group only by what varies; a resource's kind and name are fixed by its id.
  const groups = [1, 2, 3, ...(o.labels ? [6] : []), ...(o.day ? [7] : []), ...(cuts.length ? [8] : [])];
  const sql = `SELECT project, sku, resource_id, MIN(resource_kind) AS resource_kind, MAX(resource_name) AS resource_name,
      ${o.labels ? 'labels' : "'{}'"} AS lbl, ${o.day ? 'day' : '0'} AS day, ${seg} AS seg,
      CAST(SUM(quantity) AS TEXT) AS q, MIN(first_ms) AS at
    FROM metering_daily WHERE day >= ? AND day < ?${o.project !== undefined ? ' AND project = ?' : ''}
    GROUP BY ${groups.join(', ')}`;
  const rows = await q.all<{ project: string; sku: string; resource_id: string; resource_kind: string; resource_name: string; lbl: string; day: number | string; seg: number | string; q: string; at: number | string }>(sql, params);
  return rows.map((r) => ({
    project: r.project, sku: r.sku, resourceId: r.resource_id, resourceKind: r.resource_kind, resourceName: r.resource_name,
    labels: r.lbl, day: Number(r.day), seg: Number(r.seg), quantity: toBig(r.q), at: Number(r.at),
  }));
}

/** Turns not-yet-recorded records into rows shaped like `aggregate`'s. */
export function recordRows(cat: PriceCatalogue, recs: UsageRecord[], o: AggregateOptions): AggRow[] {
  const cuts = segmentCuts(cat, o.from, o.to);
  return recs.filter((r) => r.start >= o.from && r.start < o.to && (o.project === undefined || r.project === o.project)).map((r) => ({
    project: r.project, sku: r.sku, resourceId: r.resourceId, resourceKind: r.resourceKind, resourceName: r.resourceName,
    labels: o.labels ? JSON.stringify(r.labels) : '{}', day: o.day ? Math.floor(r.start / DAY) : 0, seg: segOf(cuts, r.start),
    quantity: r.quantity, at: r.start, unbilled: true,
  }));
}

/** Rates rows in (segment, day, unbilled last, project, sku, resource) order; costs sum exactly to the rated total. */
export function rateRows(rows: AggRow[], rater: Rater): RatedRow[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...rows].sort((a, b) => a.seg - b.seg || a.day - b.day || Number(!!a.unbilled) - Number(!!b.unbilled)
    || cmp(a.project, b.project) || cmp(a.sku, b.sku) || cmp(a.resourceId, b.resourceId) || cmp(a.labels, b.labels));
  return sorted.map((r) => ({ ...r, cost: rater.charge(r.project, r.sku, r.quantity, r.at) }));
}

/** Base units → billing units as a decimal string (6 places, trailing zeros trimmed). */
export function formatQuantity(q: bigint, scale: bigint): string {
  const whole = q / scale;
  const frac = ((q % scale) * 1_000_000n * 2n + scale) / (2n * scale);
  if (frac >= 1_000_000n) return String(whole + 1n);
  const f = frac.toString().padStart(6, '0').replace(/0+$/, '');
  return f ? `${whole}.${f}` : String(whole);
}
