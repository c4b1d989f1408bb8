/**
 * `yun autoscale …` — autoscaling policies for apps and instance groups:
 *   yun autoscale set shop --min 1 --max 10 --target rps-per-replica=100 [--target cpu=60]
 *   yun autoscale set group/workers --min 2 --max 20 --target cpu=50
 *   yun autoscale set shop --min 0 --max 5 --target rps-per-replica=50 --idle 2m     (scale to zero)
 *   yun autoscale set shop --target custom=5 --query 'avg(queue_depth{queue="jobs"})'
 *   yun autoscale schedule shop --cron '0 8 * * 1-5' --min 3 [--duration 10h] [--tz Europe/Berlin]
 *   yun autoscale list · show TARGET · events TARGET · decisions · delete TARGET
 */
import type { Command } from 'commander';
import type { MetricType } from '../../autoscale/decide.ts';
import { parseDuration } from '../../monitor/query.ts';
import { AutoscaleApi, type PolicyMetric, type PolicySpec, normTarget, policyName } from '../../sdk/autoscale.ts';
import type { CliEnv } from '../env.ts';

const TYPES: MetricType[] = ['cpu', 'memory', 'rps-per-replica', 'p95-latency-ms', 'custom'];
const target = (v: string, prev: PolicyMetric[] = []) => {
  const m = /^([a-z0-9-]+)=(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || !TYPES.includes(m[1] as MetricType)) throw new Error(`--target takes METRIC=VALUE with METRIC one of ${TYPES.join(', ')}; got '${v}'`);
  return [...prev, { type: m[1] as MetricType, target: Number(m[2]) }];
};
const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got '${v}'`);
  return n;
};
const seconds = (name: string) => (v: string) => {
  const ms = parseDuration(v);
  if (ms === undefined) throw new Error(`${name}: '${v}' is not a duration (e.g. 30s, 2m)`);
  return ms / 1000;
};

export function registerAutoscaleCommands(program: Command, env: CliEnv): void {
  const api = async () => new AutoscaleApi(await env.client());
  const a = program.command('autoscale').description('horizontal, scheduled and scale-to-zero autoscaling of apps (NAME) and instance groups (group/NAME)');
  a.command('set <target>').option('--min <n>', 'min replicas (0 = scale to zero)', int('--min')).option('--max <n>', 'max replicas', int('--max'))
    .option('--target <metric=value>', 'cpu=60 · memory=70 · rps-per-replica=100 · p95-latency-ms=200 · custom=5 (repeatable; replaces the list)', target)
    .option('--query <q>', 'the custom metric query').option('--scale-up-window <duration>', 'breach must hold this long (default 2s)', seconds('--scale-up-window'))
    .option('--scale-down-window <duration>', 'load must stay low this long (default 30s)', seconds('--scale-down-window'))
    .option('--idle <duration>', 'with --min 0: idle time before scaling to zero (default 60s)', seconds('--idle'))
    .action(async (t: string, o: { min?: number; max?: number; target?: PolicyMetric[]; query?: string; scaleUpWindow?: number; scaleDownWindow?: number; idle?: number }) => {
      const patch: Partial<PolicySpec> = {};
      if (o.min !== undefined) patch.minReplicas = o.min;
      if (o.max !== undefined) patch.maxReplicas = o.max;
      if (o.target) patch.metrics = o.target.map((m) => (m.type === 'custom' ? { ...m, query: o.query } : m));
      const api_ = await api();
      if (o.scaleUpWindow !== undefined || o.scaleDownWindow !== undefined || o.idle !== undefined) {
        const cur = await api_.policies.get(policyName(normTarget(t))).catch(() => undefined);
        patch.behavior = {
          ...(cur?.spec.behavior ?? {}),
          ...(o.scaleUpWindow !== undefined ? { scaleUpStabilizationSeconds: o.scaleUpWindow } : {}),
          ...(o.scaleDownWindow !== undefined ? { scaleDownStabilizationSeconds: o.scaleDownWindow } : {}),
          ...(o.idle !== undefined ? { idleToZeroSeconds: o.idle } : {}),
        };
      }
      env.out(summary(await api_.setPolicy(t, patch)));
    });
  a.command('schedule <target>').requiredOption('--cron <expr>', "five fields, e.g. '0 8 * * 1-5'").option('--min <n>', 'min replicas while active', int('--min'))
    .option('--max <n>', 'max replicas while active', int('--max')).option('--duration <duration>', 'how long each firing lasts (default 60m)')
    .option('--tz <zone>', 'IANA time zone (default UTC)')
    .action(async (t: string, o: { cron: string; min?: number; max?: number; duration?: string; tz?: string }) => {
      const d = o.duration ? parseDuration(o.duration) : undefined;
      if (o.duration && !d) throw new Error(`--duration: '${o.duration}' is not a duration`);
      const r = await (await api()).addSchedule(t, { cron: o.cron, ...(o.min !== undefined ? { minReplicas: o.min } : {}), ...(o.max !== undefined ? { maxReplicas: o.max } : {}), ...(d ? { durationMinutes: Math.max(1, Math.round(d / 60_000)) } : {}) }, o.tz);
      env.out(summary(r));
    });
  a.command('list').action(async () => env.out((await (await api()).policies.listAll()).map(summary), ['name', 'target', 'min', 'max', 'metrics', 'current', 'state', 'lastScale']));
  a.command('show <target>').action(async (t: string) => env.out(await (await api()).policies.get(policyName(normTarget(t)))));
  a.command('events <target>').description('scale events with the numbers that drove them').action(async (t: string) => {
    const r = await (await api()).policies.get(policyName(normTarget(t)));
    env.out((r.status.events ?? []).map((e) => ({ at: e.at, from: e.from, to: e.to, reason: e.reason, metrics: e.metrics.map((m) => `${m.type}=${m.value ?? '?'}/${m.target}`).join(' ') })), ['at', 'from', 'to', 'reason', 'metrics']);
  });
  a.command('decisions').description('the latest decision of every policy (live)').action(async () => {
    env.out((await (await api()).decisions()).items.map((d) => ({ ...d, metrics: d.metrics.map((m) => `${m.type}=${m.value === undefined ? '?' : Math.round(m.value * 100) / 100}/${m.target}`).join(' ') })), ['policy', 'target', 'current', 'desired', 'recommended', 'min', 'max', 'reason', 'metrics']);
  });
  a.command('delete <target>').action(async (t: string) => { await (await api()).policies.delete(policyName(normTarget(t))); env.out({ deleted: policyName(normTarget(t)) }); });
}

type P = { name: string; spec: PolicySpec; status: { currentReplicas?: number; state?: string; lastScaleTime?: string } };
function summary(r: P) {
  return {
    name: r.name, target: r.spec.target, min: r.spec.minReplicas, max: r.spec.maxReplicas,
    metrics: r.spec.metrics.map((m) => `${m.type}=${m.target}`).join(',') || '(none)', schedules: (r.spec.schedules ?? []).map((s) => `${s.cron}→min ${s.minReplicas ?? '-'}`).join('; '),
    current: r.status.currentReplicas, state: r.status.state, lastScale: r.status.lastScaleTime,
  };
}
