/**
 * The price catalogue: per region, per sku, a list of price versions with
 * effective dates; each version is a flat price or tiers (cumulative per
 * project, per sku, per calendar month) with an optional free allowance.
 *
 * Read from `$YUN_HOME/prices.yaml` when present, merged per sku over the
 * built-in defaults below (see docs in DEFAULT_PRICES_YAML). A file that does
 * not parse fails the start naming file and line.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { YunError } from '../core/errors.ts';
import { METERS, meterOf, requireMeter } from './meters.ts';
import { type Micro, parseMoney } from './money.ts';

export interface Tier {
  /** Upper bound in base units (cumulative within the month); undefined = no bound. */
  upTo?: bigint;
  /** Price per billing unit, micro-units. */
  price: Micro;
}

export interface PriceVersion {
  /** Effective from (epoch ms, whole UTC day); 0 = always. */
  from: number;
  tiers: Tier[];
}

export interface PriceCatalogue {
  currency: string;
  region: string;
  /** Versions per sku, ascending by `from`. */
  skus: ReadonlyMap<string, PriceVersion[]>;
  source: string;
}

/** Built-in defaults (USD). Storage at 0.05 per GB-month, as in the seed. */
export const DEFAULT_PRICES_YAML = `
# yun price catalogue. Prices are per billing unit (see 'yun price list').
# Each sku holds price versions: { from?, price } or { from?, free?, tiers }.
# 'from' is a date (whole UTC day); tiers and 'free' count per project per month.
currency: USD
regions:
  default:
    compute.vcpu:            [{ price: "0.02" }]     # per vCPU-hour (containers)
    compute.vcpu:vm:         [{ price: "0.024" }]    # per vCPU-hour (VMs)
    compute.memory:          [{ price: "0.0025" }]   # per GiB-hour
    compute.memory:vm:       [{ price: "0.003" }]
    compute.stopped_disk:    [{ price: "0.05" }]     # per GB-month
    compute.gpu:             [{ price: "0.90" }]     # per GPU-hour
    volume.storage:          [{ price: "0.08" }]     # per GB-month
    volume.storage:qcow2:    [{ price: "0.08" }]
    volume.storage:file:     [{ price: "0.10" }]
    storage.object:          [{ price: "0.05" }]     # per GB-month
    s3.requests:class-a:     [{ price: "0.005" }]    # per 1000 requests
    s3.requests:class-b:     [{ price: "0.0004" }]
    network.data_out:        [{ free: 1, tiers: [{ upTo: 10240, price: "0.09" }, { price: "0.085" }] }]  # per GB
    network.lb:              [{ price: "0.025" }]    # per LB-hour
    apps.replica:            [{ price: "0" }]        # replicas pay vCPU/memory through compute
`;

interface RawVersion { from?: unknown; price?: unknown; free?: unknown; tiers?: unknown }

function fail(source: string, msg: string, line?: number): never {
  throw new YunError('ValidationFailed', `${source}${line ? `:${line}` : ''}: ${msg}`, { field: 'prices' });
}

function parseVersion(source: string, sku: string, raw: RawVersion, line?: number): PriceVersion {
  const meter = requireMeterOr(source, sku, line);
  let from = 0;
  if (raw.from !== undefined) {
    from = Date.parse(String(raw.from instanceof Date ? raw.from.toISOString() : raw.from));
    if (!Number.isFinite(from)) fail(source, `${sku}: 'from' is not a date: ${String(raw.from)}`, line);
    if (from % 86_400_000 !== 0) fail(source, `${sku}: 'from' must be a date (whole UTC day), e.g. 2026-12-01`, line);
  }
  const money = (v: unknown, what: string): Micro => {
    try { return parseMoney(v as string, what); } catch (e) { return fail(source, `${sku}: ${(e as Error).message}`, line); }
  };
  const units = (v: unknown, what: string): bigint => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(source, `${sku}: ${what} must be a whole number of ${meter.billingUnit}`, line);
    return BigInt(v) * meter.scale;
  };
  const tiers: Tier[] = [];
  if (raw.free !== undefined) tiers.push({ upTo: units(raw.free, 'free'), price: 0n });
  if (raw.tiers !== undefined) {
    if (!Array.isArray(raw.tiers) || raw.tiers.length === 0) fail(source, `${sku}: tiers must be a non-empty list`, line);
    const base = tiers[0]?.upTo ?? 0n;
    for (const [i, t] of (raw.tiers as { upTo?: unknown; price?: unknown }[]).entries()) {
      const last = i === raw.tiers.length - 1;
      if (!last && t.upTo === undefined) fail(source, `${sku}: every tier but the last needs upTo`, line);
      const upTo = t.upTo === undefined ? undefined : base + units(t.upTo, 'upTo');
      const prev = tiers[tiers.length - 1]?.upTo ?? 0n;
      if (upTo !== undefined && upTo <= prev) fail(source, `${sku}: tier bounds must increase`, line);
      tiers.push({ upTo, price: money(t.price, 'price') });
    }
    if (tiers[tiers.length - 1]!.upTo !== undefined) fail(source, `${sku}: the last tier must have no upTo`, line);
  } else if (raw.price !== undefined) {
    tiers.push({ price: money(raw.price, 'price') });
  } else {
    fail(source, `${sku}: give price or tiers`, line);
  }
  return { from, tiers };
}

function requireMeterOr(source: string, sku: string, line?: number) {
  try { return requireMeter(sku); } catch { return fail(source, `unknown meter '${meterOf(sku)}' (known: ${[...METERS.keys()].join(', ')})`, line); }
}

interface ParsedFile { currency?: string; regions: Record<string, Map<string, PriceVersion[]>> }

/** Parses catalogue text; errors name `source` and the line. */
export function parseCatalogueText(text: string, source: string): ParsedFile {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    fail(source, `YAML syntax error: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line);
  }
  const root = doc.toJS() as { currency?: unknown; regions?: unknown } | null;
  if (!root || typeof root !== 'object') fail(source, 'expected a mapping with currency and regions');
  if (root.currency !== undefined && (typeof root.currency !== 'string' || !/^[A-Z]{3}$/.test(root.currency))) fail(source, 'currency must be a 3-letter code');
  if (!root.regions || typeof root.regions !== 'object') fail(source, "missing 'regions'");
  const lineOf = (path: (string | number)[]) => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
  };
  const regions: ParsedFile['regions'] = {};
  for (const [region, skus] of Object.entries(root.regions as Record<string, unknown>)) {
    const m = new Map<string, PriceVersion[]>();
    for (const [sku, versions] of Object.entries((skus ?? {}) as Record<string, unknown>)) {
      const list = Array.isArray(versions) ? versions : [versions];
      const parsed = list.map((v, i) => parseVersion(source, sku, (v ?? {}) as RawVersion, lineOf(['regions', region, sku, i]) ?? lineOf(['regions', region, sku])));
      parsed.sort((a, b) => a.from - b.from);
      m.set(sku, parsed);
    }
    regions[region] = m;
  }
  return { currency: root.currency as string | undefined, regions };
}

/** Builds the catalogue for a region: file (region, then `default`) over built-in defaults. */
export function buildCatalogue(region: string, fileText?: string, source = 'prices.yaml'): PriceCatalogue {
  const builtIn = parseCatalogueText(DEFAULT_PRICES_YAML, 'built-in prices');
  const file = fileText !== undefined ? parseCatalogueText(fileText, source) : undefined;
  const skus = new Map<string, PriceVersion[]>();
  // A layer that prices a bare meter replaces that meter's variants from the layers below it.
  for (const layer of [builtIn.regions.default, builtIn.regions[region], file?.regions.default, file?.regions[region]]) {
    for (const k of layer?.keys() ?? []) {
      if (!k.includes(':')) for (const old of [...skus.keys()]) if (old.startsWith(`${k}:`) && !layer!.has(old)) skus.delete(old);
    }
    for (const [k, v] of layer ?? []) skus.set(k, v);
  }
  return { currency: file?.currency ?? builtIn.currency ?? 'USD', region, skus, source: file ? source : 'built-in' };
}

/** Reads `path` if it exists, else the built-in catalogue. */
export async function loadCatalogue(path: string, region: string): Promise<PriceCatalogue> {
  let text: string | undefined;
  try { text = await readFile(path, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return buildCatalogue(region, text, path);
}

/** Price versions for a sku: exact sku first, then its meter; undefined when unpriced. */
export function versionsFor(cat: PriceCatalogue, sku: string): PriceVersion[] | undefined {
  return cat.skus.get(sku) ?? cat.skus.get(meterOf(sku));
}

/** The version in effect at `t` (ms). */
export function versionAt(versions: PriceVersion[], t: number): PriceVersion | undefined {
  let v: PriceVersion | undefined;
  for (const x of versions) if (x.from <= t) v = x;
  return v;
}

/** Every distinct effective date after 0, ascending (for splitting periods). */
export function priceChanges(cat: PriceCatalogue): number[] {
  const s = new Set<number>();
  for (const vs of cat.skus.values()) for (const v of vs) if (v.from > 0) s.add(v.from);
  return [...s].sort((a, b) => a - b);
}
