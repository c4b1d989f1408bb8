/**
 * Invoices: per project per calendar month (UTC), line items by service,
 * sku and resource, subtotals per service, total — all in the currency's
 * minor unit, from the same rating as the cost explorer. A month closes
 * once it is over and collected (plus a grace hour); a closed invoice is
 * stored and never recomputed.
 */
import { YunError, invalid } from '../core/errors.ts';
import type { Sql } from '../store/types.ts';
import { type AggRow, aggregate, formatQuantity, monthStart, nextMonth, rateRows, recordRows } from './aggregate.ts';
import type { PriceCatalogue } from './catalogue.ts';
import { METERS, meterOf, requireMeter } from './meters.ts';
import { CENT, formatMoney } from './money.ts';
import { Rater } from './rating.ts';
import type { UsageRecord } from './records.ts';

export interface InvoiceLine {
  service: string;
  sku: string;
  description: string;
  resourceKind: string;
  resourceName: string;
  resourceId: string;
  quantity: string;
  unit: string;
  amount: string;
}

export interface Invoice {
  project: string;
  month: string;
  /** open: the month is running; pending: over, not closed yet; closed: final. */
  state: 'open' | 'pending' | 'closed';
  currency: string;
  periodStart: string;
  periodEnd: string;
  lines: InvoiceLine[];
  subtotals: { service: string; amount: string }[];
  total: string;
  /** Usage of still-running intervals included in an open invoice. */
  unbilledIncluded?: boolean;
  closedAt?: string;
}

export const GRACE_MS = 3_600_000;

export function parseMonth(month: string): { from: number; to: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw invalid('/month', `'${month}' is not a month (YYYY-MM)`);
  const from = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  return { from, to: nextMonth(from) };
}

/** Invoices of every project with usage in `month` (or just `project`). */
export async function computeInvoices(q: Sql, cat: PriceCatalogue, month: string, o: { project?: string; now: number; unbilled?: UsageRecord[] }): Promise<Map<string, Invoice>> {
  const { from, to } = parseMonth(month);
  const ao = { project: o.project, from, to };
  const rows: AggRow[] = [...await aggregate(q, cat, ao), ...recordRows(cat, o.unbilled ?? [], ao)];
  const rated = rateRows(rows, new Rater(cat, CENT));
  const state: Invoice['state'] = o.now < to ? 'open' : 'pending';
  const byProject = new Map<string, Map<string, { line: Omit<InvoiceLine, 'quantity' | 'amount'>; q: bigint; amount: bigint }>>();
  for (const r of rated) {
    let lines = byProject.get(r.project);
    if (!lines) { lines = new Map(); byProject.set(r.project, lines); }
    const key = `${r.sku}\u0000${r.resourceId}`;
    const cur = lines.get(key);
    if (cur) { cur.q += r.quantity; cur.amount += r.cost; continue; }
    const meter = METERS.get(meterOf(r.sku));
    lines.set(key, {
      line: { service: meter?.service ?? 'other', sku: r.sku, description: meter?.description ?? r.sku, resourceKind: r.resourceKind, resourceName: r.resourceName, resourceId: r.resourceId, unit: meter?.billingUnit ?? '' },
      q: r.quantity, amount: r.cost,
    });
  }
  if (o.project !== undefined && !byProject.has(o.project)) byProject.set(o.project, new Map());
  const out = new Map<string, Invoice>();
  for (const [project, lines] of byProject) {
    const sorted = [...lines.values()].sort((a, b) => (a.line.service + a.line.sku + a.line.resourceName).localeCompare(b.line.service + b.line.sku + b.line.resourceName));
    const sub = new Map<string, bigint>();
    let total = 0n;
    for (const l of sorted) { sub.set(l.line.service, (sub.get(l.line.service) ?? 0n) + l.amount); total += l.amount; }
    out.set(project, {
      project, month, state, currency: cat.currency, periodStart: new Date(from).toISOString(), periodEnd: new Date(to).toISOString(),
      lines: sorted.map((l) => ({ ...l.line, quantity: formatQuantity(l.q, requireMeter(l.line.sku).scale), amount: formatMoney(l.amount) })),
      subtotals: [...sub].map(([service, a]) => ({ service, amount: formatMoney(a) })),
      total: formatMoney(total),
      ...(o.unbilled?.length && state === 'open' ? { unbilledIncluded: true } : {}),
    });
  }
  return out;
}

async function storedInvoice(q: Sql, project: string, month: string): Promise<Invoice | undefined> {
  const row = await q.get<{ body: string }>('SELECT body FROM metering_invoices WHERE project = ? AND month = ?', [project, month]);
  return row ? (JSON.parse(row.body) as Invoice) : undefined;
}

/** The invoice of one project and month: stored when closed, computed otherwise. */
export async function getInvoice(q: Sql, cat: PriceCatalogue, project: string, month: string, o: { now: number; unbilled?: UsageRecord[] }): Promise<Invoice> {
  const { from } = parseMonth(month);
  const stored = await storedInvoice(q, project, month);
  if (stored) return stored;
  if (from > o.now) throw new YunError('NotFound', `no invoice for ${month} yet`, { field: '/month' });
  const inv = await computeInvoices(q, cat, month, { project, now: o.now, unbilled: nextMonth(from) > o.now ? o.unbilled : undefined });
  return inv.get(project)!;
}

/**
 * Closes every invoice of `month` (all projects with usage). Call only once
 * the month is collected: after a collection pass that ran at or after the
 * month's end plus GRACE_MS. Closing twice keeps the first.
 */
export async function closeMonth(q: Sql, cat: PriceCatalogue, month: string, now: number): Promise<number> {
  const { to } = parseMonth(month);
  if (now < to + GRACE_MS) return 0;
  const invs = await computeInvoices(q, cat, month, { now });
  let n = 0;
  for (const inv of invs.values()) {
    const closed: Invoice = { ...inv, state: 'closed', closedAt: new Date(now).toISOString() };
    const r = await q.run(`INSERT INTO metering_invoices (project, month, currency, total_micro, body, closed_ms) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (project, month) DO NOTHING`, [inv.project, month, inv.currency, 0, JSON.stringify(closed), now]);
    n += r.changes;
  }
  await q.run(`INSERT INTO metering_watermarks (name, value) VALUES ('closed-month', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, [parseMonth(month).from]);
  return n;
}

/** Months (YYYY-MM) in which a project has usage or a stored invoice, newest first. */
export async function invoiceMonths(q: Sql, project: string, now: number): Promise<string[]> {
  const first = await q.get<{ s: number | string | null }>('SELECT MIN(first_ms) AS s FROM metering_daily WHERE project = ?', [project]);
  const stored = await q.all<{ month: string }>('SELECT month FROM metering_invoices WHERE project = ?', [project]);
  const months = new Set(stored.map((s) => s.month));
  if (first?.s !== null && first?.s !== undefined) {
    for (let m = monthStart(Number(first.s)); m <= now; m = nextMonth(m)) months.add(new Date(m).toISOString().slice(0, 7));
  }
  return [...months].sort().reverse();
}

/** CSV (RFC 4180) of an invoice's lines, with a total row. */
export function invoiceCsv(inv: Invoice): string {
  const esc = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const head = ['month', 'project', 'service', 'sku', 'resource_kind', 'resource_name', 'resource_id', 'quantity', 'unit', 'amount', 'currency'];
  const rows = inv.lines.map((l) => [inv.month, inv.project, l.service, l.sku, l.resourceKind, l.resourceName, l.resourceId, l.quantity, l.unit, l.amount, inv.currency]);
  rows.push([inv.month, inv.project, 'TOTAL', '', '', '', '', '', '', inv.total, inv.currency]);
  return `${[head, ...rows].map((r) => r.map(esc).join(',')).join('\r\n')}\r\n`;
}
