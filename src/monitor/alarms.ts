/**
 * Alarms (kind `alarm`): a threshold over a metrics query held for a
 * duration. States: OK, ALARM, INSUFFICIENT_DATA (no series answers the
 * query, e.g. a metric that does not exist — never OK). Each transition
 * is kept in `status.history` (last 50) — and, being a status write, lands
 * in the event stream — and is POSTed as JSON to the alarm's webhooks,
 * retried with backoff (1 s, 2 s, 4 s) on failure or a non-2xx answer.
 *
 * When a query returns several series, `above` looks at the highest value
 * and `below` at the lowest: the alarm fires when any series breaches.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Resource } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { instant, parseQuery } from './query.ts';
import type { TimeSeriesStore } from './tsdb.ts';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmSpec {
  /** Metrics query, e.g. `cpu_percent{app="shop"}` or `avg(rate(cpu_usage[1m]))`. */
  metric: string;
  above?: number;
  below?: number;
  /** The breach must hold this long before ALARM (0 = at once). */
  forSeconds?: number;
  /** `webhook:http://…` targets. */
  notify?: string[];
  description?: string;
}

export interface AlarmTransition { at: string; from: AlarmState; to: AlarmState; value?: number; reason: string }

export interface AlarmStatus {
  state?: AlarmState;
  value?: number;
  /** When the current breach started (kept in status so a restart does not reset `for`). */
  breachingSince?: string;
  stateSince?: string;
  evaluatedAt?: string;
  history?: AlarmTransition[];
  lastNotification?: { at: string; target: string; ok: boolean; attempts: number; error?: string };
  [k: string]: unknown;
}

export type Alarm = Resource<AlarmSpec, AlarmStatus>;

export const AlarmSpecSchema = Type.Object({
  metric: Type.String({ minLength: 1, maxLength: 2048 }),
  above: Type.Optional(Type.Number()),
  below: Type.Optional(Type.Number()),
  forSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
  notify: Type.Optional(Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 8 })),
  description: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false });

export function validateAlarm(spec: AlarmSpec): AlarmSpec {
  try {
    parseQuery(spec.metric);
  } catch (e) {
    if (e instanceof YunError) throw new YunError('ValidationFailed', e.message, { field: '/spec/metric', details: e.details });
    throw e;
  }
  if ((spec.above === undefined) === (spec.below === undefined)) throw invalid('/spec/above', 'give exactly one of above or below');
  for (const [i, n] of (spec.notify ?? []).entries()) {
    const m = /^webhook:(.*)$/.exec(n);
    let ok = false;
    try { ok = !!m && ['http:', 'https:'].includes(new URL(m[1]!).protocol); } catch { ok = false; }
    if (!ok) throw invalid(`/spec/notify/${i}`, `'${n}' is not a notification target (use webhook:http://…)`);
  }
  return spec;
}

export function alarmRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerResource<AlarmSpec, AlarmStatus>(app, ctx, {
    kind: 'alarm', plural: 'alarms', service: 'monitor', idPrefix: 'alm', spec: AlarmSpecSchema, deletion: 'immediate',
    initialStatus: () => ({ state: 'INSUFFICIENT_DATA', history: [] }),
    prepare: async (spec) => validateAlarm(spec),
  });
}

/** Sends one notification; resolves with the outcome after the retries. */
export type Notifier = (target: string, body: unknown) => Promise<{ ok: boolean; attempts: number; error?: string }>;

export function webhookNotifier(o: { retries?: number; baseDelayMs?: number; timeoutMs?: number } = {}): Notifier {
  return async (target, body) => {
    const url = target.replace(/^webhook:/, '');
    const tries = (o.retries ?? 3) + 1;
    let error = '';
    for (let a = 1; a <= tries; a++) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'yun-alarms' }, body: JSON.stringify(body), signal: AbortSignal.timeout(o.timeoutMs ?? 5000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return { ok: true, attempts: a };
        error = `HTTP ${res.status}`;
      } catch (e) {
        error = (e as Error).message;
      }
      if (a < tries) await new Promise((r) => setTimeout(r, (o.baseDelayMs ?? 1000) * 2 ** (a - 1)));
    }
    return { ok: false, attempts: tries, error };
  };
}

export interface AlarmEvaluatorDeps { store: StateStore; db: TimeSeriesStore; log: Logger; notify: Notifier; poke?: () => void; now?: () => number }

/** Evaluates every alarm once per call (the module calls it after each collection round). */
export class AlarmEvaluator {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly d: AlarmEvaluatorDeps) {}

  async evaluateAll(): Promise<void> {
    const alarms = await new Resources(this.d.store).all<AlarmSpec, AlarmStatus>('alarm');
    for (const a of alarms) await this.evaluate(a).catch((e) => this.d.log.warn({ alarm: a.name, err: e }, 'alarm evaluation failed'));
  }

  /** Waits for notifications in flight (tests, shutdown). */
  async idle(): Promise<void> { await Promise.all([...this.pending]); }

  async evaluate(a: Alarm): Promise<AlarmState> {
    const now = (this.d.now ?? Date.now)();
    const values = instant(this.d.db, a.spec.metric, now, { restrict: { project: a.project } }).map((r) => r.value);
    const above = a.spec.above !== undefined;
    const value = values.length ? (above ? Math.max(...values) : Math.min(...values)) : undefined;
    const breach = value !== undefined && (above ? value > a.spec.above! : value < a.spec.below!);
    const prevState = a.status.state ?? 'INSUFFICIENT_DATA';
    let since = a.status.breachingSince ? Date.parse(a.status.breachingSince) : undefined;
    if (!breach) since = undefined; else since ??= now;
    const held = since !== undefined && now - since >= (a.spec.forSeconds ?? 0) * 1000;
    let next: AlarmState;
    let reason: string;
    if (value === undefined) { next = 'INSUFFICIENT_DATA'; reason = `no data for ${a.spec.metric}`; }
    else if (held) { next = 'ALARM'; reason = `${round(value)} ${above ? '>' : '<'} ${above ? a.spec.above : a.spec.below} for ${a.spec.forSeconds ?? 0}s`; }
    else { next = 'OK'; reason = breach ? `${round(value)} breaching since ${new Date(since!).toISOString()}, not yet ${a.spec.forSeconds ?? 0}s` : `${round(value)} within threshold`; }
    const at = new Date(now).toISOString();
    const transition: AlarmTransition | undefined = next !== prevState ? { at, from: prevState, to: next, value: value === undefined ? undefined : round(value), reason } : undefined;
    await new Resources(this.d.store).updateStatus<AlarmStatus>('alarm', a.id, (s) => ({
      ...s, state: next, value: value === undefined ? undefined : round(value), breachingSince: since !== undefined ? new Date(since).toISOString() : undefined,
      evaluatedAt: at, stateSince: transition ? at : s.stateSince ?? at,
      history: transition ? [...(s.history ?? []), transition].slice(-50) : s.history ?? [],
    }));
    if (transition) {
      this.d.poke?.();
      for (const target of a.spec.notify ?? []) this.send(a, target, transition);
    }
    return next;
  }

  private send(a: Alarm, target: string, t: AlarmTransition): void {
    const body = { alarm: a.name, project: a.project, metric: a.spec.metric, above: a.spec.above, below: a.spec.below, forSeconds: a.spec.forSeconds ?? 0, state: t.to, previousState: t.from, value: t.value, reason: t.reason, at: t.at };
    const p = this.d.notify(target, body).then(async (r) => {
      await new Resources(this.d.store).updateStatus<AlarmStatus>('alarm', a.id, (s) => ({ ...s, lastNotification: { at: new Date().toISOString(), target, ...r } }));
      if (!r.ok) this.d.log.warn({ alarm: a.name, target, error: r.error }, 'alarm notification failed after retries');
    }).catch((e) => this.d.log.warn({ alarm: a.name, err: e }, 'alarm notification bookkeeping failed'));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
