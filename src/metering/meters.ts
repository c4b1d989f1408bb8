/**
 * The meters yun records, as data. A usage record carries a `sku`: the
 * meter name, optionally followed by `:variant` (`compute.vcpu:vm`,
 * `s3.requests:class-a`); prices are looked up by sku, then by meter.
 *
 * Quantities are integers in the meter's base unit; a price is per billing
 * unit, which is `scale` base units. A month for GB-month prices is 730
 * hours (365 × 24 / 12), as the big clouds count it.
 */
export const MONTH_SECONDS = 730 * 3600;

export interface MeterDef {
  name: string;
  service: 'compute' | 'block' | 'objects' | 'network' | 'apps' | 'jobs';
  /** Base unit of `quantity` in records. */
  unit: string;
  /** The unit prices are quoted in. */
  billingUnit: string;
  /** Base units per billing unit. */
  scale: bigint;
  description: string;
}

const defs: MeterDef[] = [
  { name: 'compute.vcpu', service: 'compute', unit: 'mvCPU-s', billingUnit: 'vCPU-hour', scale: 3_600_000n, description: 'vCPUs of running instances (variant vm|container)' },
  { name: 'compute.memory', service: 'compute', unit: 'MiB-s', billingUnit: 'GiB-hour', scale: 1024n * 3600n, description: 'memory of running instances (variant vm|container)' },
  { name: 'compute.stopped_disk', service: 'compute', unit: 'GB-s', billingUnit: 'GB-month', scale: BigInt(MONTH_SECONDS), description: 'root disk of stopped instances' },
  { name: 'compute.gpu', service: 'jobs', unit: 'GPU-s', billingUnit: 'GPU-hour', scale: 3600n, description: 'GPU time of jobs' },
  { name: 'volume.storage', service: 'block', unit: 'GB-s', billingUnit: 'GB-month', scale: BigInt(MONTH_SECONDS), description: 'provisioned volume size (variant: volume type)' },
  { name: 'storage.object', service: 'objects', unit: 'MB-s', billingUnit: 'GB-month', scale: 1000n * BigInt(MONTH_SECONDS), description: 'bytes stored per bucket, sampled' },
  { name: 's3.requests', service: 'objects', unit: 'request', billingUnit: '1000 requests', scale: 1000n, description: 'S3 requests (variant class-a: PUT/COPY/POST/LIST, class-b: GET/HEAD)' },
  { name: 'network.data_out', service: 'network', unit: 'byte', billingUnit: 'GB', scale: 1_000_000_000n, description: 'bytes out through published ports, load balancers, router and S3' },
  { name: 'network.lb', service: 'network', unit: 's', billingUnit: 'LB-hour', scale: 3600n, description: 'load balancer time' },
  { name: 'apps.replica', service: 'apps', unit: 'replica-s', billingUnit: 'replica-hour', scale: 3600n, description: 'running app replicas (their vCPU/memory is metered by compute)' },
];

export type MeterRegistry = ReadonlyMap<string, MeterDef>;

export const METERS: MeterRegistry = new Map(defs.map((d) => [d.name, d]));

export const meterOf = (sku: string): string => sku.split(':')[0]!;

export function requireMeter(sku: string): MeterDef {
  const m = METERS.get(meterOf(sku));
  if (!m) throw new Error(`unknown meter '${sku}'`);
  return m;
}
