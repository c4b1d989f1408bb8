/**
 * Per-app traffic figures measured by the router: what `yun app status`
 * shows and what the autoscaler reads in-process. Windows are sliding: rates
 * over the last `windowSeconds`, latency percentiles over the requests that
 * finished in that window (at most the last 4096 of them).
 */

export interface AppTraffic {
  project: string;
  app: string;
  windowSeconds: number;
  requestsPerSecond: number;
  /** 5xx answers from replicas and requests the router could not deliver (502/503/504). */
  errorsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  inFlight: number;
  /** Since the router started. */
  totalRequests: number;
  totalErrors: number;
}

/** Read side, exported for the autoscaler and the monitoring service. */
export interface RouterMetrics {
  /** Figures of one app (project id, app name); zeros when it had no traffic. */
  traffic(project: string, app: string): AppTraffic;
  /** Every app that had traffic since the router started. */
  all(): AppTraffic[];
}

const RING = 4096;

/** Counters plus a ring of the last RING request samples (no allocation per request). */
export class AppCounters {
  /** Response bytes sent to clients and not yet taken by metering (`TrafficMeter.takeBytesOut`). */
  bytesOut = 0;
  constructor(readonly project = '', readonly app = '') {}
  readonly at = new Float64Array(RING);
  readonly ms = new Float64Array(RING);
  readonly err = new Uint8Array(RING);
  n = 0;
  total = 0;
  errors = 0;
  inFlight = 0;
  record(ms: number, error: boolean, now: number): void {
    this.total++;
    if (error) this.errors++;
    const i = this.n++ % RING;
    this.at[i] = now;
    this.ms[i] = ms;
    this.err[i] = error ? 1 : 0;
  }
  /** Latencies and error count of samples at or after `since`. */
  recent(since: number): { lat: number[]; errors: number } {
    const lat: number[] = [];
    let errors = 0;
    for (let k = 0; k < Math.min(this.n, RING); k++) {
      if (this.at[k]! < since) continue;
      lat.push(this.ms[k]!);
      errors += this.err[k]!;
    }
    return { lat, errors };
  }
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

export class TrafficMeter implements RouterMetrics {
  private readonly apps = new Map<string, AppCounters>();

  constructor(private readonly windowSeconds = 10, private readonly now = () => Date.now()) {}

  private key(project: string, app: string) { return `${project}/${app}`; }

  /** One app's counters, for callers that keep them (the router, per route) and call record(). */
  counters(project: string, app: string): AppCounters {
    const k = this.key(project, app);
    let c = this.apps.get(k);
    if (!c) { c = new AppCounters(project, app); this.apps.set(k, c); }
    return c;
  }

  /** Bytes sent per app since the last call (for metering); forgets them. */
  takeBytesOut(): { project: string; app: string; bytes: number }[] {
    const out: { project: string; app: string; bytes: number }[] = [];
    for (const c of this.apps.values()) {
      if (c.bytesOut > 0) out.push({ project: c.project, app: c.app, bytes: c.bytesOut });
      c.bytesOut = 0;
    }
    return out;
  }

  /** Called by the router around each proxied request. */
  begin(project: string, app: string): (status: number) => void {
    const c = this.counters(project, app);
    const t0 = performance.now();
    c.inFlight++;
    return (status: number) => {
      c.inFlight--;
      this.record(c, performance.now() - t0, status);
    };
  }

  /** One finished request of `c` (inFlight is the caller's to keep). */
  record(c: AppCounters, ms: number, status: number): void {
    c.record(ms, status >= 500, this.now());
  }

  traffic(project: string, app: string): AppTraffic {
    const c = this.apps.get(this.key(project, app));
    const since = this.now() - this.windowSeconds * 1000;
    const { lat, errors } = c ? c.recent(since) : { lat: [], errors: 0 };
    lat.sort((a, b) => a - b);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      project, app, windowSeconds: this.windowSeconds,
      requestsPerSecond: r2(lat.length / this.windowSeconds),
      errorsPerSecond: r2(errors / this.windowSeconds),
      p50Ms: r2(pct(lat, 50)), p95Ms: r2(pct(lat, 95)), p99Ms: r2(pct(lat, 99)),
      inFlight: c?.inFlight ?? 0, totalRequests: c?.total ?? 0, totalErrors: c?.errors ?? 0,
    };
  }

  all(): AppTraffic[] {
    return [...this.apps.keys()].map((k) => {
      const [p, a] = k.split('/') as [string, string];
      return this.traffic(p, a);
    });
  }
}
