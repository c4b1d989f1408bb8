/**
 * Cost estimates before anything is created, from the same catalogue and
 * the same `Rater` as invoices. The planned usage starts at `from` (default
 * now) and is cut at month starts and price changes, so tiers, free
 * allowances and scheduled price changes apply as they would on invoices.
 * Estimates count from zero usage (allowances already used this month are
 * not subtracted).
 */
import { DEFAULT_FLAVORS, type FlavorSpec } from '../compute/flavors.ts';
import { YunError, invalid } from '../core/errors.ts';
import { SYSTEM_PROJECT } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { formatQuantity, segmentCuts } from './aggregate.ts';
import type { PriceCatalogue } from './catalogue.ts';
import { MONTH_SECONDS, requireMeter } from './meters.ts';
import { type Micro, formatMoney } from './money.ts';
import { Rater, splitPeriod } from './rating.ts';

export type EstimateRequest =
  | { type: 'storage'; gb: number; months: number }
  | { type: 'volume'; gb: number; months: number; volumeType?: string }
  | { type: 'instance'; flavor?: string; vcpus?: number; memoryMb?: number; hours: number; count?: number; runtime?: 'vm' | 'container' }
  | { type: 'app'; name?: string; flavor?: string; vcpus?: number; memoryMb?: number; replicas?: number; minReplicas?: number; maxReplicas?: number; hours?: number }
  | { type: 'data-out'; gb: number };

export interface EstimateItem { sku: string; quantity: string; unit: string; amount: string }
export interface Estimate {
  type: string;
  currency: string;
  from: string;
  to: string;
  items: EstimateItem[];
  total: string;
  /** For an app with a replica range (autoscaling): cost at min and at max. */
  range?: { min: string; max: string; minReplicas: number; maxReplicas: number };
  notes?: string[];
}

interface Use { sku: string; quantity: bigint }

const HOUR_MS = 3_600_000;

function positive(v: unknown, field: string, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max || (integer && !Number.isInteger(v))) {
    throw invalid(`/${field}`, `${field} must be ${integer ? 'an integer' : 'a number'} > 0 and ≤ ${max} (got ${String(v)})`);
  }
  return v;
}

interface Size { vcpus: number; ramMb: number; flavor?: string }

async function sizeOf(q: Sql, r: { flavor?: string; vcpus?: number; memoryMb?: number }): Promise<Size> {
  if (r.flavor) {
    const f = (await new Resources(q).get<FlavorSpec>('flavor', SYSTEM_PROJECT, r.flavor))?.spec ?? DEFAULT_FLAVORS[r.flavor];
    if (!f) throw invalid('/flavor', `unknown flavor '${r.flavor}'`);
    return { vcpus: f.vcpus, ramMb: f.ramMb, flavor: r.flavor };
  }
  if (r.vcpus === undefined || r.memoryMb === undefined) throw invalid('/flavor', 'give a flavor, or both vcpus and memoryMb');
  return { vcpus: positive(r.vcpus, 'vcpus', 1024), ramMb: positive(r.memoryMb, 'memoryMb', 4 * 1024 * 1024, true) };
}

const computeUse = (s: Size, seconds: bigint, count: bigint, runtime: string): Use[] => [
  { sku: `compute.vcpu:${runtime}`, quantity: BigInt(Math.round(s.vcpus * 1000)) * seconds * count },
  { sku: `compute.memory:${runtime}`, quantity: BigInt(s.ramMb) * seconds * count },
];

/** Rates `uses` spread evenly over [from, to). */
function rate(cat: PriceCatalogue, uses: Use[], from: number, to: number): { items: EstimateItem[]; total: Micro } {
  // Micro precision, rounded once at the end: an estimate spanning months is one figure, not one per invoice.
  const rater = new Rater(cat);
  const cuts = segmentCuts(cat, from, to);
  let total = 0n;
  const items = uses.map((u) => {
    let amount = 0n;
    for (const p of splitPeriod(from, to, u.quantity, cuts)) amount += rater.charge('estimate', u.sku, p.quantity, p.start);
    total += amount;
    const m = requireMeter(u.sku);
    return { sku: u.sku, quantity: formatQuantity(u.quantity, m.scale), unit: m.billingUnit, amount: formatMoney(amount) };
  });
  return { items, total };
}

export async function estimate(q: Sql, cat: PriceCatalogue, project: string, req: EstimateRequest, now: number): Promise<Estimate> {
  const from = Math.floor(now / HOUR_MS) * HOUR_MS;
  const base = { type: req.type, currency: cat.currency, from: new Date(from).toISOString() };
  const done = (uses: Use[], seconds: number, extra: Partial<Estimate> = {}): Estimate => {
    const to = from + seconds * 1000;
    const r = rate(cat, uses, from, to);
    return { ...base, to: new Date(to).toISOString(), items: r.items, total: formatMoney(r.total), ...extra };
  };
  switch (req.type) {
    case 'storage': {
      const gb = positive(req.gb, 'gb', 10_000_000);
      const months = positive(req.months, 'months', 120);
      const secs = Math.round(months * MONTH_SECONDS);
      return done([{ sku: 'storage.object', quantity: BigInt(Math.round(gb * 1000)) * BigInt(secs) }], secs);
    }
    case 'volume': {
      const gb = positive(req.gb, 'gb', 65_536, true);
      const secs = Math.round(positive(req.months, 'months', 120) * MONTH_SECONDS);
      return done([{ sku: req.volumeType ? `volume.storage:${req.volumeType}` : 'volume.storage', quantity: BigInt(gb) * BigInt(secs) }], secs);
    }
    case 'data-out': {
      const gb = positive(req.gb, 'gb', 10_000_000);
      return done([{ sku: 'network.data_out', quantity: BigInt(Math.round(gb * 1e9)) }], HOUR_MS / 1000);
    }
    case 'instance': {
      const hours = positive(req.hours, 'hours', 87_600);
      const count = positive(req.count ?? 1, 'count', 10_000, true);
      const size = await sizeOf(q, req);
      const secs = Math.round(hours * 3600);
      return done(computeUse(size, BigInt(secs), BigInt(count), req.runtime ?? 'container'), secs, size.flavor ? { notes: [`flavor ${size.flavor}: ${size.vcpus} vCPU, ${size.ramMb} MiB`] } : {});
    }
    case 'app':
      return estimateApp(q, project, req, done);
    default:
      throw invalid('/type', `unknown estimate type '${(req as { type: string }).type}' (storage, volume, instance, app, data-out)`);
  }
}

async function estimateApp(q: Sql, project: string, req: Extract<EstimateRequest, { type: 'app' }>,
  done: (uses: Use[], seconds: number, extra?: Partial<Estimate>) => Estimate): Promise<Estimate> {
  const hours = positive(req.hours ?? 730, 'hours', 87_600);
  const secs = BigInt(Math.round(hours * 3600));
  const app = req.name ? await new Resources(q).get<Record<string, unknown>>('app', project, req.name) : undefined;
  const spec = (app?.spec ?? {}) as { flavor?: string; cpus?: number; memoryMb?: number; replicas?: number };
  const notes: string[] = [];
  let size: Size;
  if (req.flavor || req.vcpus !== undefined) size = await sizeOf(q, req);
  else if (app && (spec.flavor || spec.cpus !== undefined)) size = await sizeOf(q, { flavor: spec.flavor, vcpus: spec.cpus, memoryMb: spec.memoryMb });
  else if (req.name && !app) throw new YunError('NotFound', `app '${req.name}' not found; give --flavor to estimate a new app`, { details: { kind: 'app', name: req.name } });
  else size = await sizeOf(q, { flavor: 'm1.tiny' });
  if (app) notes.push(`app ${req.name} runs ${spec.replicas ?? 0} replicas now`);
  const uses = (n: number): Use[] => [...computeUse(size, secs, BigInt(n), 'container'), { sku: 'apps.replica', quantity: secs * BigInt(n) }];
  if (req.minReplicas !== undefined || req.maxReplicas !== undefined) {
    const min = positive(req.minReplicas ?? 1, 'minReplicas', 1000, true);
    const max = positive(req.maxReplicas ?? min, 'maxReplicas', 1000, true);
    if (max < min) throw invalid('/maxReplicas', 'maxReplicas must be ≥ minReplicas');
    const lo = done(uses(min), Number(secs));
    const hi = done(uses(max), Number(secs));
    return { ...hi, range: { min: lo.total, max: hi.total, minReplicas: min, maxReplicas: max }, notes };
  }
  const replicas = positive(req.replicas ?? spec.replicas ?? 1, 'replicas', 1000, true);
  return done(uses(replicas), Number(secs), { notes });
}
