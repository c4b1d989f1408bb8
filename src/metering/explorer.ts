/**
 * The cost explorer: usage and cost over [since, until) grouped by service,
 * sku, resource, a label or day, with a month-end forecast from the
 * current month's run rate. Rating starts at the first month's start so
 * tiers and free allowances count as on the invoice.
 */
import { invalid } from '../core/errors.ts';
import type { Sql } from '../store/types.ts';
import { DAY, aggregate, monthStart, nextMonth, rateRows, recordRows } from './aggregate.ts';
import type { PriceCatalogue } from './catalogue.ts';
import { METERS, meterOf } from './meters.ts';
import { type Micro, formatMoney } from './money.ts';
import { Rater } from './rating.ts';
import type { UsageRecord } from './records.ts';

export type GroupBy = 'service' | 'sku' | 'resource' | 'day' | 'project' | `label:${string}`;

export interface UsageGroup { key: string; cost: string; costMicro: string; quantities: Record<string, string> }

export interface UsageReport {
  since: string;
  until: string;
  groupBy: GroupBy;
  currency: string;
  groups: UsageGroup[];
  total: string;
  totalMicro: string;
  /** Month-to-date and month-end forecast of the month containing `now` (when inside the range). */
  forecast?: { month: string; actual: string; forecast: string };
}

export function parseGroupBy(s: string | undefined): GroupBy {
  const g = s ?? 'service';
  if (['service', 'sku', 'resource', 'day', 'project'].includes(g) || /^label:[A-Za-z0-9._/-]{1,63}$/.test(g)) return g as GroupBy;
  throw invalid('/groupBy', `groupBy must be service, sku, resource, day, project or label:<key> (got '${g}')`);
}

/** Linear run-rate forecast for the month of `now`. */
export function forecastMonth(actual: Micro, now: number): Micro {
  const from = monthStart(now);
  const to = nextMonth(now);
  const elapsed = BigInt(Math.max(now - from, 1));
  return (actual * BigInt(to - from)) / elapsed;
}

export interface ExploreOptions { project?: string; since: number; until: number; groupBy: GroupBy; now: number; unbilled?: UsageRecord[] }

export async function explore(q: Sql, cat: PriceCatalogue, o: ExploreOptions): Promise<UsageReport> {
  if (!(o.until > o.since)) throw invalid('/until', 'until must be after since');
  if (o.until - o.since > 400 * DAY) throw invalid('/since', 'at most 400 days at once');
  const label = o.groupBy.startsWith('label:') ? o.groupBy.slice(6) : undefined;
  const ao = { project: o.project, from: monthStart(o.since), to: o.until, labels: label !== undefined, day: o.groupBy === 'day' };
  const rows = [...await aggregate(q, cat, ao), ...recordRows(cat, o.unbilled ?? [], ao)];
  const rated = rateRows(rows, new Rater(cat));
  const groups = new Map<string, { cost: Micro; q: Map<string, bigint> }>();
  let total = 0n;
  let monthActual = 0n;
  const curMonth = monthStart(o.now);
  for (const r of rated) {
    if (r.at >= curMonth && r.at < nextMonth(curMonth)) monthActual += r.cost;
    if (r.at < o.since) continue;
    const key = label !== undefined ? (JSON.parse(r.labels) as Record<string, string>)[label] ?? '(none)'
      : o.groupBy === 'service' ? METERS.get(meterOf(r.sku))?.service ?? 'other'
      : o.groupBy === 'sku' ? r.sku
      : o.groupBy === 'project' ? r.project
      : o.groupBy === 'day' ? new Date(r.day * DAY).toISOString().slice(0, 10)
      : `${r.resourceKind}/${r.resourceName}`;
    let g = groups.get(key);
    if (!g) { g = { cost: 0n, q: new Map() }; groups.set(key, g); }
    g.cost += r.cost;
    g.q.set(r.sku, (g.q.get(r.sku) ?? 0n) + r.quantity);
    total += r.cost;
  }
  const inRange = curMonth < o.until && nextMonth(curMonth) > o.since;
  return {
    since: new Date(o.since).toISOString(), until: new Date(o.until).toISOString(), groupBy: o.groupBy, currency: cat.currency,
    groups: [...groups].sort((a, b) => (a[1].cost === b[1].cost ? a[0].localeCompare(b[0]) : a[1].cost > b[1].cost ? -1 : 1)).map(([key, g]) => ({
      key, cost: formatMoney(g.cost), costMicro: g.cost.toString(), quantities: Object.fromEntries([...g.q].map(([k, v]) => [k, v.toString()])),
    })),
    total: formatMoney(total), totalMicro: total.toString(),
    ...(inRange ? { forecast: { month: new Date(curMonth).toISOString().slice(0, 7), actual: formatMoney(monthActual), forecast: formatMoney(forecastMonth(monthActual, o.now)) } } : {}),
  };
}
