/**
 * Autoscaling policies (kind `autoscaler`): what to scale (`app/<name>` or
 * `group/<name>`), between which bounds, on which metrics, how calmly, and
 * scheduled capacity by cron. The apps service's `app-autoscaler` (an HPA
 * from `yun apply` or the console) is honoured too, converted by
 * `fromAppAutoscaler`; an `autoscaler` for the same app takes precedence.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import type { AutoscalerSpec as AppAutoscalerSpec } from '../apps/schema.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { Resource } from '../core/resource.ts';
import { parseQuery } from '../monitor/query.ts';
import { parseCron } from './cron.ts';
import { type Behavior, DEFAULT_BEHAVIOR, type MetricType } from './decide.ts';

export interface PolicyMetric { type: MetricType; target: number; query?: string }
export interface Schedule { cron: string; minReplicas?: number; maxReplicas?: number; durationMinutes?: number }

export interface PolicySpec {
  /** `app/<name>` or `group/<name>`. */
  target: string;
  minReplicas: number;
  maxReplicas: number;
  metrics: PolicyMetric[];
  behavior?: {
    scaleUpStabilizationSeconds?: number;
    scaleDownStabilizationSeconds?: number;
    maxScaleUpStep?: number;
    maxScaleDownPercent?: number;
    idleToZeroSeconds?: number;
  };
  schedules?: Schedule[];
  /** IANA time zone for the schedules; default UTC. */
  timeZone?: string;
}

export interface ScaleEvent { at: string; from: number; to: number; reason: string; metrics: { type: string; value?: number; target: number }[] }

export interface PolicyStatus {
  state?: 'Active' | 'TargetMissing' | 'Failing';
  currentReplicas?: number;
  desiredReplicas?: number;
  lastScaleTime?: string;
  message?: string;
  activeSchedule?: string;
  /** Last 30 scale events, with the numbers that drove them. */
  events?: ScaleEvent[];
  [k: string]: unknown;
}

export type Policy = Resource<PolicySpec, PolicyStatus>;

const Metric = Type.Object({
  type: Type.Union(['cpu', 'memory', 'rps-per-replica', 'p95-latency-ms', 'custom'].map((t) => Type.Literal(t))),
  target: Type.Number({ exclusiveMinimum: 0 }),
  query: Type.Optional(Type.String({ maxLength: 2048 })),
}, { additionalProperties: false });

export const PolicySpecSchema = Type.Object({
  target: Type.String({ pattern: '^(app|group)/[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 80 }),
  minReplicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  maxReplicas: Type.Integer({ minimum: 1, maximum: 1000 }),
  metrics: Type.Array(Metric, { maxItems: 8 }),
  behavior: Type.Optional(Type.Object({
    scaleUpStabilizationSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
    scaleDownStabilizationSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
    maxScaleUpStep: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    maxScaleDownPercent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    idleToZeroSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
  }, { additionalProperties: false })),
  schedules: Type.Optional(Type.Array(Type.Object({
    cron: Type.String({ maxLength: 200 }),
    minReplicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    maxReplicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    durationMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440 })),
  }, { additionalProperties: false }), { maxItems: 16 })),
  timeZone: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

export function validatePolicy(spec: PolicySpec): PolicySpec {
  if (spec.minReplicas > spec.maxReplicas) throw invalid('/spec/minReplicas', `minReplicas (${spec.minReplicas}) must not exceed maxReplicas (${spec.maxReplicas})`);
  for (const [i, m] of spec.metrics.entries()) {
    if (m.type === 'custom') {
      if (!m.query) throw invalid(`/spec/metrics/${i}/query`, 'a custom metric needs a query');
      try { parseQuery(m.query); } catch (e) {
        throw new YunError('ValidationFailed', (e as Error).message, { field: `/spec/metrics/${i}/query`, details: (e as YunError).details });
      }
    } else if (m.query) throw invalid(`/spec/metrics/${i}/query`, 'only custom metrics take a query');
    if ((m.type === 'cpu' || m.type === 'memory') && m.target > 100) throw invalid(`/spec/metrics/${i}/target`, `${m.type} target is a utilization % (1-100)`);
  }
  for (const [i, s] of (spec.schedules ?? []).entries()) {
    parseCron(s.cron);
    if (s.minReplicas === undefined && s.maxReplicas === undefined) throw invalid(`/spec/schedules/${i}`, 'a schedule sets minReplicas and/or maxReplicas');
    if (s.minReplicas !== undefined && s.maxReplicas !== undefined && s.minReplicas > s.maxReplicas) throw invalid(`/spec/schedules/${i}/minReplicas`, 'minReplicas must not exceed maxReplicas');
  }
  if (spec.timeZone) {
    try { new Intl.DateTimeFormat('en-US', { timeZone: spec.timeZone }); } catch { throw invalid('/spec/timeZone', `unknown time zone '${spec.timeZone}'`); }
  }
  return spec;
}

export function behaviorOf(spec: PolicySpec): Behavior {
  const b = spec.behavior ?? {};
  const s = (v: number | undefined, d: number) => (v === undefined ? d : v * 1000);
  return {
    ...DEFAULT_BEHAVIOR,
    scaleUpStabilizationMs: s(b.scaleUpStabilizationSeconds, DEFAULT_BEHAVIOR.scaleUpStabilizationMs),
    scaleDownStabilizationMs: s(b.scaleDownStabilizationSeconds, DEFAULT_BEHAVIOR.scaleDownStabilizationMs),
    maxScaleUpStep: b.maxScaleUpStep ?? DEFAULT_BEHAVIOR.maxScaleUpStep,
    maxScaleDownPercent: b.maxScaleDownPercent ?? DEFAULT_BEHAVIOR.maxScaleDownPercent,
    idleToZeroMs: s(b.idleToZeroSeconds, DEFAULT_BEHAVIOR.idleToZeroMs),
  };
}

/** The apps service's HPA policy in this service's terms. */
export function fromAppAutoscaler(s: AppAutoscalerSpec): PolicySpec {
  return {
    target: `app/${s.target.name}`, minReplicas: s.minReplicas, maxReplicas: s.maxReplicas,
    metrics: s.metrics.map((m) => ({ type: m.type === 'requests-per-second' ? 'rps-per-replica' : m.type, target: m.target })),
  };
}

export function policyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerResource<PolicySpec, PolicyStatus>(app, ctx, {
    kind: 'autoscaler', plural: 'autoscalers', service: 'autoscale', idPrefix: 'asp', spec: PolicySpecSchema, deletion: 'immediate',
    initialStatus: () => ({ state: 'Active', events: [] }),
    prepare: async (spec) => validatePolicy(spec),
  });
}
