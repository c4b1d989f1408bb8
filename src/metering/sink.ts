/**
 * How other services report usage that the resource event log cannot show.
 *
 * - `UsageSink`: counters pushed on the hot path (S3 requests, bytes out).
 *   `add` only bumps an in-memory counter; the collector writes the sums as
 *   usage records on its next tick, keyed by (sku, resource, window start,
 *   sink id), so a re-run never double-counts. A crash loses at most the
 *   counts of one tick, by design: a hot path never waits on the store.
 * - `GaugeSource`: something the collector samples each tick (bytes stored
 *   per bucket); the value is held constant since the previous sample.
 * - `CounterSource`: counts kept elsewhere (kernel byte counters, proxy
 *   sockets) that the collector asks, each tick just before it drains the
 *   sink, to push what they gained since the last time.
 */
export interface ResourceRef { id: string; kind: string; name: string }

export interface UsageEvent {
  project: string;
  /** Meter or meter:variant, e.g. `s3.requests:class-a`, `network.data_out`. */
  sku: string;
  /** Base units of the meter (requests, bytes). Must be a non-negative integer. */
  quantity: number | bigint;
  resource: ResourceRef;
  labels?: Record<string, string>;
}

export interface UsageSink {
  /** Counts usage now. Never throws on the caller's path; bad input is dropped and counted in `rejected`. */
  add(u: UsageEvent): void;
  /** One S3 request: `method` is the HTTP method, `op` the S3 operation (CopyObject, ListObjectsV2…). */
  s3Request(project: string, bucket: string, method: string, op?: string): void;
  /** Bytes sent out of the cloud through a published port, load balancer, the router or S3. */
  dataOut(project: string, resource: ResourceRef, bytes: number): void;
}

/** S3 request class: writes and listings are class A, reads class B (AWS's split). */
export function s3RequestClass(method: string, op?: string): 'class-a' | 'class-b' {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD') return op && /^List/i.test(op) ? 'class-a' : 'class-b';
  return 'class-a';
}

interface Counter { u: Omit<UsageEvent, 'quantity'>; quantity: bigint }

/** The in-process sink; the collector drains it. */
export class BufferedUsageSink implements UsageSink {
  private counters = new Map<string, Counter>();
  rejected = 0;

  add(u: UsageEvent): void {
    let q: bigint;
    try {
      q = typeof u.quantity === 'bigint' ? u.quantity : BigInt(u.quantity);
    } catch { this.rejected++; return; }
    if (q < 0n || !u.project || !u.sku || !u.resource?.id) { this.rejected++; return; }
    if (q === 0n) return;
    const key = `${u.project}\u0000${u.sku}\u0000${u.resource.id}`;
    const c = this.counters.get(key);
    if (c) c.quantity += q;
    else this.counters.set(key, { u: { project: u.project, sku: u.sku, resource: u.resource, labels: u.labels }, quantity: q });
  }

  s3Request(project: string, bucket: string, method: string, op?: string): void {
    this.add({ project, sku: `s3.requests:${s3RequestClass(method, op)}`, quantity: 1, resource: { id: `bucket:${bucket}`, kind: 'bucket', name: bucket } });
  }

  dataOut(project: string, resource: ResourceRef, bytes: number): void {
    this.add({ project, sku: 'network.data_out', quantity: Math.max(0, Math.floor(bytes)), resource });
  }

  /** Takes the counts so far (the collector calls this). */
  drain(): { project: string; sku: string; resource: ResourceRef; labels?: Record<string, string>; quantity: bigint }[] {
    const out = [...this.counters.values()].map((c) => ({ ...c.u, quantity: c.quantity }));
    this.counters = new Map();
    return out;
  }

  /** Puts drained counts back (their write failed). */
  restore(items: ReturnType<BufferedUsageSink['drain']>): void {
    for (const i of items) this.add(i);
  }
}

/** Pushes the counts gained since its last call into `sink` (and forgets them). */
export type CounterSource = (sink: UsageSink) => Promise<void>;

export interface GaugeSample {
  project: string;
  resource: ResourceRef;
  labels?: Record<string, string>;
  /** Current level, e.g. bytes stored. */
  value: number;
}

export interface GaugeSource {
  sku: string;
  /** `value / divisor` is base units per second of the sku's meter (bytes / 1e6 = MB for `storage.object`). */
  divisor: number;
  sample(): Promise<GaugeSample[]>;
}

/** Bytes stored per bucket → `storage.object` (MB-seconds). `list` comes from the objects service. */
export function bucketBytesGauge(list: () => Promise<{ project: string; bucket: string; bytes: number }[]>): GaugeSource {
  return {
    sku: 'storage.object',
    divisor: 1e6,
    sample: async () => (await list()).map((b) => ({ project: b.project, resource: { id: `bucket:${b.bucket}`, kind: 'bucket', name: b.bucket }, value: b.bytes })),
  };
}

/**
 * Adapter for the objects service's `ObjectIdentity.recordUsage(projectId,
 * metric, value, labels)` hook. Understood metrics:
 *   `s3.request`  value 1, labels { bucket, method, op? }
 *   `s3.bytes_out` value = body bytes sent, labels { bucket }
 * Other metrics (e.g. `objects.put_bytes`) are not billed and are ignored.
 */
export function recordUsageToSink(sink: UsageSink): (projectId: string, metric: string, value: number, labels?: Record<string, string>) => void {
  return (projectId, metric, value, labels = {}) => {
    const bucket = labels.bucket ?? '';
    if (metric === 's3.request') {
      for (let i = 0; i < Math.max(1, Math.floor(value)); i++) sink.s3Request(projectId, bucket, labels.method ?? 'GET', labels.op);
    } else if (metric === 's3.bytes_out') {
      sink.dataOut(projectId, { id: `bucket:${bucket}`, kind: 'bucket', name: bucket }, value);
    }
  };
}
