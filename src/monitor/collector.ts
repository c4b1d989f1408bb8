/**
 * The metrics collector: every `intervalMs` (default 5 s) it samples the
 * instances running on this host (through the compute driver's `stats`)
 * and the apps router's per-app traffic, and appends to the time-series
 * store. Series it writes (labels in braces):
 *
 *   instance {project, instance, app?, group?}:
 *     cpu_usage (counter, CPU seconds) · cpu_percent (% of the allocated vCPUs)
 *     memory_bytes · memory_percent (% of the allocated RAM) · pids
 *     block_read_bytes · block_write_bytes (counters, when the driver sees them)
 *   app {project, app}:
 *     http_requests_total · http_errors_total (counters)
 *     http_requests_per_second · http_errors_per_second
 *     http_latency_p50_ms · http_latency_p95_ms · http_latency_p99_ms · http_in_flight
 *     app_replicas · app_ready_replicas
 *   host {host}: host_instances_running
 *
 * A failed stats call skips that instance for the round (it may be
 * stopping); the collector never stops on one bad sample.
 */
import type { RouterMetrics } from '../apps/metrics.ts';
import type { WorkloadStats } from '../compute/drivers/types.ts';
import type { Logger } from '../core/log.ts';
import { Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import type { Labels, TimeSeriesStore } from './tsdb.ts';

/** The one thing the collector needs from compute: per-workload usage by yun id. */
export interface StatsSource { stats(id: string): Promise<WorkloadStats> }

export interface CollectorDeps {
  store: StateStore;
  db: TimeSeriesStore;
  log: Logger;
  hostId: string;
  stats?: () => StatsSource | undefined;
  router?: () => RouterMetrics | undefined;
  intervalMs?: number;
  /** Called after each round (persistence, alarm evaluation). */
  afterRound?: () => Promise<void>;
}

interface InstanceRow { id: string; name: string; project: string; labels: Record<string, string>; spec: { size?: { vcpus: number; ramMb: number } }; status: { state?: string; hostId?: string } }

export class MetricsCollector {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly prevCpu = new Map<string, { t: number; s: number }>();
  rounds = 0;

  constructor(private readonly d: CollectorDeps) {}

  get intervalMs(): number { return this.d.intervalMs ?? 5000; }

  start(): void {
    const tick = () => {
      this.running = this.collect().catch((e) => this.d.log.warn({ err: e }, 'metrics collection failed')).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }

  /** One collection round (tests call it directly). */
  async collect(now = Date.now()): Promise<void> {
    await this.collectInstances(now);
    await this.collectApps(now);
    this.rounds++;
    await this.d.afterRound?.();
  }

  private async collectInstances(now: number): Promise<void> {
    const src = this.d.stats?.();
    if (!src) return;
    const all = await new Resources(this.d.store).all('instance') as unknown as InstanceRow[];
    const mine = all.filter((i) => i.status.state === 'running' && i.status.hostId === this.d.hostId);
    const db = this.d.db;
    db.append('host_instances_running', { host: this.d.hostId }, mine.length, { t: now, help: 'Instances running on this host' });
    const live = new Set<string>();
    await Promise.all(mine.map(async (i) => {
      live.add(i.id);
      const st = await src.stats(i.id).catch(() => undefined);
      if (!st) return;
      const labels: Labels = { project: i.project, instance: i.name };
      if (i.labels.app) labels.app = i.labels.app;
      if (i.labels['yun-group']) labels.group = i.labels['yun-group'];
      const vcpus = i.spec.size?.vcpus ?? 1;
      const ramBytes = (i.spec.size?.ramMb ?? 0) * 1024 * 1024;
      db.append('cpu_usage', labels, st.cpuSeconds, { t: now, type: 'counter', help: 'CPU time consumed, seconds' });
      const prev = this.prevCpu.get(i.id);
      if (prev && now > prev.t && st.cpuSeconds >= prev.s) {
        db.append('cpu_percent', labels, ((st.cpuSeconds - prev.s) / ((now - prev.t) / 1000) / vcpus) * 100, { t: now, help: 'CPU use, % of the allocated vCPUs' });
      }
      this.prevCpu.set(i.id, { t: now, s: st.cpuSeconds });
      db.append('memory_bytes', labels, st.memoryBytes, { t: now, help: 'Memory in use, bytes' });
      if (ramBytes) db.append('memory_percent', labels, (st.memoryBytes / ramBytes) * 100, { t: now, help: 'Memory in use, % of the allocated RAM' });
      db.append('pids', labels, st.pids, { t: now, help: 'Processes and threads' });
      if (st.blockReadBytes !== undefined) db.append('block_read_bytes', labels, st.blockReadBytes, { t: now, type: 'counter', help: 'Block bytes read' });
      if (st.blockWriteBytes !== undefined) db.append('block_write_bytes', labels, st.blockWriteBytes, { t: now, type: 'counter', help: 'Block bytes written' });
    }));
    for (const id of this.prevCpu.keys()) if (!live.has(id)) this.prevCpu.delete(id);
  }

  private async collectApps(now: number): Promise<void> {
    const router = this.d.router?.();
    const db = this.d.db;
    const apps = await new Resources(this.d.store).all<{ replicas?: number }, { readyReplicas?: number }>('app');
    for (const a of apps) {
      const labels = { project: a.project, app: a.name };
      db.append('app_replicas', labels, a.spec.replicas ?? 0, { t: now, help: 'Replicas wanted' });
      db.append('app_ready_replicas', labels, a.status.readyReplicas ?? 0, { t: now, help: 'Replicas ready' });
    }
    if (!router) return;
    for (const tr of router.all()) {
      const labels = { project: tr.project, app: tr.app };
      db.append('http_requests_total', labels, tr.totalRequests, { t: now, type: 'counter', help: 'Requests through the apps router' });
      db.append('http_errors_total', labels, tr.totalErrors, { t: now, type: 'counter', help: '5xx answers and undeliverable requests' });
      db.append('http_requests_per_second', labels, tr.requestsPerSecond, { t: now, help: `Requests/s over the router's ${tr.windowSeconds}s window` });
      db.append('http_errors_per_second', labels, tr.errorsPerSecond, { t: now, help: 'Errors/s' });
      db.append('http_latency_p50_ms', labels, tr.p50Ms, { t: now, help: 'Median latency, ms' });
      db.append('http_latency_p95_ms', labels, tr.p95Ms, { t: now, help: '95th percentile latency, ms' });
      db.append('http_latency_p99_ms', labels, tr.p99Ms, { t: now, help: '99th percentile latency, ms' });
      db.append('http_in_flight', labels, tr.inFlight, { t: now, help: 'Requests in flight' });
    }
  }
}
