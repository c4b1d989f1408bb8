/**
 * Rating: turns quantities into money with one accumulator per (project,
 * sku, calendar month). Each charge adds its exact value (micro-units ×
 * base units, no rounding) to the accumulator and returns the difference of
 * the rounded running totals, so any set of charges sums to the rounded
 * total to the last `quantum` — invoices equal the sum of their lines, and
 * lines equal the sum of their records. Tiers and free allowances follow
 * the cumulative quantity of the month; a price version applies from its
 * date (callers cut periods at price changes, see `splitPeriod`).
 *
 * Invoices, the cost explorer, budgets and estimates all rate through this.
 */
import { type PriceCatalogue, versionAt, versionsFor } from './catalogue.ts';
import { requireMeter } from './meters.ts';
import { type Micro, roundTo } from './money.ts';

interface Acc { cum: bigint; num: bigint }

export const monthKey = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

export class Rater {
  private readonly acc = new Map<string, Acc>();
  /** Skus charged without a price (costed 0). */
  readonly unpriced = new Set<string>();

  constructor(readonly catalogue: PriceCatalogue, readonly quantum: Micro = 1n) {}

  /** Money for `quantity` base units of `sku` used by `project` at `at` (ms). */
  charge(project: string, sku: string, quantity: bigint, at: number): Micro {
    if (quantity <= 0n) return 0n;
    const versions = versionsFor(this.catalogue, sku);
    const v = versions && versionAt(versions, at);
    if (!v) { this.unpriced.add(sku); return 0n; }
    const scale = requireMeter(sku).scale;
    const key = `${project}\u0000${sku}\u0000${monthKey(at)}`;
    let a = this.acc.get(key);
    if (!a) { a = { cum: 0n, num: 0n }; this.acc.set(key, a); }
    const before = roundTo(a.num, scale, this.quantum);
    let left = quantity;
    for (const t of v.tiers) {
      if (t.upTo !== undefined && a.cum >= t.upTo) continue;
      const take = t.upTo === undefined || t.upTo - a.cum > left ? left : t.upTo - a.cum;
      a.num += take * t.price;
      a.cum += take;
      left -= take;
      if (left === 0n) break;
    }
    return roundTo(a.num, scale, this.quantum) - before;
  }
}

/**
 * Cuts [start, end) at the given instants (price changes, hour or month
 * boundaries) and shares `quantity` by duration; the parts sum exactly to
 * `quantity` (the last part takes the remainder).
 */
export function splitPeriod(start: number, end: number, quantity: bigint, cuts: readonly number[]): { start: number; end: number; quantity: bigint }[] {
  const inside = cuts.filter((c) => c > start && c < end);
  if (inside.length === 0 || end <= start) return [{ start, end, quantity }];
  const edges = [start, ...inside, end];
  const total = BigInt(end - start);
  const out: { start: number; end: number; quantity: bigint }[] = [];
  let given = 0n;
  for (let i = 0; i < edges.length - 1; i++) {
    const q = i === edges.length - 2 ? quantity - given : (quantity * BigInt(edges[i + 1]! - start)) / total - given;
    given += q;
    out.push({ start: edges[i]!, end: edges[i + 1]!, quantity: q });
  }
  return out;
}

const HOUR = 3_600_000;

/** Whole-hour instants strictly inside (start, end). */
export function hourCuts(start: number, end: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(start / HOUR) * HOUR + HOUR; t < end; t += HOUR) out.push(t);
  return out;
}
