/**
 * The autoscaler controller. Every `evalMs` (default 2 s) it evaluates each
 * policy (`autoscaler`, and the apps service's `app-autoscaler` for apps
 * without one): reads the target's replica count, the metrics (cpu/memory
 * utilization from the time-series store; requests/s and p95 straight from
 * the apps router, sampled every tick so a load step shows within a second
 * instead of through the router's 10 s window), applies scheduled capacity,
 * runs `decide`, and writes the new count to the target's spec.
 *
 * Every tick (default 250 ms) it also looks for demand at zero: an app
 * scaled to zero that received a request is woken to one replica at once.
 *
 * Every scale is recorded in the policy's `status.events` with the numbers
 * that drove it (so it is also in the event stream). A failed scale (quota,
 * a concurrent write) is retried after a growing delay (2 s … 60 s) and
 * reported in `status.message`, never retried in a tight loop.
 */
import type { RouterMetrics } from '../apps/metrics.ts';
import type { AutoscalerSpec as AppAutoscalerSpec } from '../apps/schema.ts';
import type { Logger } from '../core/log.ts';
import { instant } from '../monitor/query.ts';
import type { TimeSeriesStore } from '../monitor/tsdb.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { lastFire, parseCron } from './cron.ts';
import { type Decision, type DecisionState, type MetricReading, decide } from './decide.ts';
import { GROUP_KIND } from './groups.ts';
import { type PolicySpec, type PolicyStatus, type ScaleEvent, behaviorOf, fromAppAutoscaler } from './policy.ts';

export interface AutoscaleControllerDeps {
  store: StateStore;
  bus: EventBus;
  log: Logger;
  db: TimeSeriesStore;
  router?: () => RouterMetrics | undefined;
  evalMs?: number;
  tickMs?: number;
  /** How old a cpu/memory sample may be (default 3 collection intervals, 15 s). */
  lookbackMs?: number;
  now?: () => number;
}

interface PolicyRef { id: string; kind: 'autoscaler' | 'app-autoscaler'; name: string; project: string; spec: PolicySpec; status: PolicyStatus }
interface Traffic { samples: { t: number; total: number; inFlight: number }[]; lastRequestAt: number }
interface PolicyState { dec: DecisionState; failures: number; retryAt: number; last?: Decision & { at: number; current: number; min: number; max: number } }

const targetKind = (t: string) => (t.startsWith('group/') ? GROUP_KIND : 'app');
const targetName = (t: string) => t.slice(t.indexOf('/') + 1);

export class AutoscaleController {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastEval = 0;
  private readonly traffic = new Map<string, Traffic>();
  private readonly states = new Map<string, PolicyState>();
  private readonly started: number;

  constructor(private readonly d: AutoscaleControllerDeps) {
    this.started = this.now();
  }

  private now(): number { return (this.d.now ?? Date.now)(); }
  get evalMs(): number { return this.d.evalMs ?? 2000; }

  start(): void {
    const tick = () => {
      this.running = this.tick().catch((e) => this.d.log.warn({ err: e }, 'autoscaler tick failed')).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.d.tickMs ?? 250);
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

  /** The last decision per policy (in memory), for `yun autoscale status` and load tests. */
  decisions(project: string): { policy: string; kind: string; target: string; at: string; current: number; desired: number; recommended: number; min: number; max: number; reason: string; metrics: Decision['perMetric'] }[] {
    const out = [];
    for (const [key, s] of this.states) {
      const [kind, proj, name, target] = key.split('|') as [string, string, string, string];
      if (proj !== project || !s.last) continue;
      out.push({ policy: name, kind, target, at: new Date(s.last.at).toISOString(), current: s.last.current, desired: s.last.desired, recommended: s.last.recommended, min: s.last.min, max: s.last.max, reason: s.last.reason, metrics: s.last.perMetric });
    }
    return out;
  }

  async tick(): Promise<void> {
    const now = this.now();
    this.sampleTraffic(now);
    const policies = await this.policies();
    const full = now - this.lastEval >= this.evalMs;
    if (full) this.lastEval = now;
    for (const p of policies) {
      const key = `${p.kind}|${p.project}|${p.name}|${p.spec.target}`;
      let st = this.states.get(key);
      if (!st) { st = { dec: { recs: [] }, failures: 0, retryAt: 0 }; this.states.set(key, st); }
      if (now < st.retryAt) continue;
      // Between full evaluations only apps at zero with waiting demand are looked at.
      if (!full && !(targetKind(p.spec.target) === 'app' && this.demandAtZero(p.project, targetName(p.spec.target)))) continue;
      await this.evaluate(p, st, now).catch((e) => this.d.log.warn({ policy: p.name, err: e }, 'autoscaler evaluation failed'));
    }
    const live = new Set(policies.map((p) => `${p.kind}|${p.project}|${p.name}|${p.spec.target}`));
    for (const k of this.states.keys()) if (!live.has(k)) this.states.delete(k);
  }

  private async policies(): Promise<PolicyRef[]> {
    const res = new Resources(this.d.store);
    const own = (await res.all<PolicySpec, PolicyStatus>('autoscaler')).map((r) => ({ id: r.id, kind: 'autoscaler' as const, name: r.name, project: r.project, spec: r.spec, status: r.status }));
    const covered = new Set(own.map((p) => `${p.project}|${p.spec.target}`));
    const hpa = (await res.all<AppAutoscalerSpec, PolicyStatus>('app-autoscaler'))
      .map((r) => ({ id: r.id, kind: 'app-autoscaler' as const, name: r.name, project: r.project, spec: fromAppAutoscaler(r.spec), status: r.status }))
      .filter((p) => !covered.has(`${p.project}|${p.spec.target}`));
    return [...own, ...hpa];
  }

  private sampleTraffic(now: number): void {
    const router = this.d.router?.();
    if (!router) return;
    for (const tr of router.all()) {
      const k = `${tr.project}/${tr.app}`;
      let t = this.traffic.get(k);
      if (!t) { t = { samples: [], lastRequestAt: 0 }; this.traffic.set(k, t); }
      const prev = t.samples[t.samples.length - 1];
      if (!prev || tr.totalRequests !== prev.total || tr.inFlight > 0) t.lastRequestAt = prev ? now : t.lastRequestAt;
      t.samples.push({ t: now, total: tr.totalRequests, inFlight: tr.inFlight });
      while (t.samples.length > 2 && t.samples[0]!.t < now - 10_000) t.samples.shift();
    }
  }

  /** Requests/s over the last ~3 s of router samples. */
  private rps(project: string, app: string, now: number): number | undefined {
    const t = this.traffic.get(`${project}/${app}`);
    if (!t || t.samples.length < 2) return this.d.router?.() ? 0 : undefined;
    const last = t.samples[t.samples.length - 1]!;
    const first = t.samples.find((s) => s.t >= now - 3000) ?? t.samples[0]!;
    const base = t.samples[Math.max(0, t.samples.indexOf(first) - 1)]!;
    const dt = (last.t - base.t) / 1000;
    return dt > 0 ? (last.total - base.total) / dt : undefined;
  }

  private demandAtZero(project: string, app: string): boolean {
    const t = this.traffic.get(`${project}/${app}`);
    if (!t || t.samples.length < 2) return false;
    const last = t.samples[t.samples.length - 1]!;
    return last.inFlight > 0 || this.now() - t.lastRequestAt < 2000;
  }

  private readings(p: PolicyRef, current: number, now: number): MetricReading[] {
    const kind = targetKind(p.spec.target);
    const name = targetName(p.spec.target);
    const label = kind === 'app' ? 'app' : 'group';
    const lookbackMs = this.d.lookbackMs ?? 15_000;
    const avg = (q: string) => {
      const vs = instant(this.d.db, q, now, { lookbackMs, restrict: { project: p.project } }).map((r) => r.value);
      return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : undefined;
    };
    const router = this.d.router?.();
    return p.spec.metrics.map((m) => {
      let value: number | undefined;
      if (m.type === 'cpu') value = current ? avg(`cpu_percent{${label}="${name}"}`) : undefined;
      else if (m.type === 'memory') value = current ? avg(`memory_percent{${label}="${name}"}`) : undefined;
      else if (m.type === 'rps-per-replica') value = kind === 'app' ? this.rps(p.project, name, now) : undefined;
      else if (m.type === 'p95-latency-ms') {
        const tr = kind === 'app' ? router?.traffic(p.project, name) : undefined;
        value = tr && tr.requestsPerSecond > 0 ? tr.p95Ms : undefined;
      } else value = avg(m.query!);
      return { type: m.type, target: m.target, value, query: m.query };
    });
  }

  private bounds(spec: PolicySpec, now: number): { min: number; max: number; schedule?: string } {
    let min = spec.minReplicas;
    let max = spec.maxReplicas;
    let schedule: string | undefined;
    for (const s of spec.schedules ?? []) {
      const fired = lastFire(parseCron(s.cron), now, (s.durationMinutes ?? 60) * 60_000, spec.timeZone);
      if (fired === undefined) continue;
      schedule = s.cron;
      if (s.minReplicas !== undefined) min = Math.max(min, s.minReplicas);
      if (s.maxReplicas !== undefined) max = s.maxReplicas;
    }
    return { min, max: Math.max(max, min), schedule };
  }

  private async evaluate(p: PolicyRef, st: PolicyState, now: number): Promise<void> {
    const res = new Resources(this.d.store);
    const kind = targetKind(p.spec.target);
    const name = targetName(p.spec.target);
    const target = await res.get<{ replicas?: number; size?: number }>(kind, p.project, name);
    if (!target || target.deletionTimestamp) {
      await this.setStatus(p, (s) => ({ ...s, state: 'TargetMissing', message: `${p.spec.target} not found` }));
      return;
    }
    const current = (kind === 'app' ? target.spec.replicas : target.spec.size) ?? 0;
    const { min, max, schedule } = this.bounds(p.spec, now);
    const t = kind === 'app' ? this.traffic.get(`${p.project}/${name}`) : undefined;
    const idleMs = kind === 'app' ? now - (t?.lastRequestAt || this.started) : Number.POSITIVE_INFINITY;
    const demand = kind === 'app' && current === 0 && this.demandAtZero(p.project, name);
    const dec = decide({ now, current, min, max, readings: this.readings(p, current, now), idleMs, demand }, st.dec, behaviorOf(p.spec));
    st.last = { ...dec, at: now, current, min, max };
    if (dec.desired === current) {
      await this.setStatus(p, (s) => ({ ...s, state: 'Active', currentReplicas: current, desiredReplicas: current, activeSchedule: schedule, message: undefined }));
      return;
    }
    try {
      await this.d.store.tx(async (q) => {
        const r = new Resources(q);
        const cur = await r.require<Record<string, unknown>>(kind, p.project, target.id);
        await r.updateSpec(cur, { spec: { ...cur.spec, [kind === 'app' ? 'replicas' : 'size']: dec.desired } });
      });
      this.d.bus.poke();
      st.failures = 0;
      st.retryAt = 0;
      const ev: ScaleEvent = { at: new Date(now).toISOString(), from: current, to: dec.desired, reason: dec.reason, metrics: dec.perMetric.map((m) => ({ type: m.type, value: m.value === undefined ? undefined : Math.round(m.value * 100) / 100, target: m.target })) };
      this.d.log.info({ policy: p.name, target: p.spec.target, ...ev }, 'autoscaler: scaled');
      await this.setStatus(p, (s) => ({
        ...s, state: 'Active', currentReplicas: dec.desired, desiredReplicas: dec.desired, lastScaleTime: ev.at, activeSchedule: schedule, message: undefined,
        events: [...(s.events ?? []), ev].slice(-30),
      }));
    } catch (e) {
      st.failures++;
      const wait = Math.min(60_000, 1000 * 2 ** st.failures);
      st.retryAt = now + wait;
      await this.setStatus(p, (s) => ({ ...s, state: 'Failing', desiredReplicas: dec.desired, message: `scaling ${p.spec.target} to ${dec.desired} failed (${(e as Error).message}); retrying in ${wait / 1000}s` }));
    }
  }

  private async setStatus(p: PolicyRef, f: (s: PolicyStatus) => PolicyStatus): Promise<void> {
    await new Resources(this.d.store).updateStatus<PolicyStatus>(p.kind, p.id, f);
  }
}
