/**
 * Metrics REST surface:
 *  GET  /v1/metrics/query?q=…&since=10m&step=10s[&until=…]  range query (JSON)
 *  GET  /v1/metrics/names                                    metric names
 *  POST /v1/metrics/push                                     custom metrics
 *  GET  /v1/metrics/prometheus                               text exposition
 * A caller sees its project's series only (`project` label); cloud admins
 * see every project with `?allProjects=true`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { invalid } from '../core/errors.ts';
import { exposition, METRIC_NAME_RE } from './prometheus.ts';
import { evaluate, parseDuration, parseQuery } from './query.ts';
import type { Labels, TimeSeriesStore } from './tsdb.ts';

const Query = Type.Object({
  q: Type.String({ maxLength: 4096 }), since: Type.Optional(Type.String()), until: Type.Optional(Type.String()), step: Type.Optional(Type.String()),
  allProjects: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()),
}, { additionalProperties: false });
const Scoped = Type.Object({ allProjects: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()) }, { additionalProperties: false });
const Push = Type.Object({
  samples: Type.Array(Type.Object({
    metric: Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$', maxLength: 200 }),
    labels: Type.Optional(Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', maxLength: 100 }), Type.String({ maxLength: 1024 }))),
    value: Type.Number(), type: Type.Optional(Type.Union([Type.Literal('gauge'), Type.Literal('counter')])),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
}, { additionalProperties: false });

/** `10m` (ago), an ISO time, or unix seconds → epoch ms. */
function timeArg(v: string | undefined, now: number, field: string, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const d = parseDuration(v);
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(field, `'${v}' is not a duration (10m), a time (ISO 8601) or unix seconds`);
  return t;
}

export function metricsRoutes(app: FastifyInstance, ctx: ApiContext, db: TimeSeriesStore): void {
  const scoped = async (req: FastifyRequest, verb: string): Promise<Labels | undefined> => {
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `monitor:${verb}`, ctx.authz.resourceName('monitor', scope.project.id, 'metrics/*'), { 'yun:SourceIp': req.ip });
    const all = (req.query as { allProjects?: boolean }).allProjects && scope.role === 'system-admin';
    return all ? undefined : { project: scope.project.id };
  };

  app.get('/metrics/query', { schema: { summary: 'Range query over metrics (PromQL-like selector, rate/avg/max over range, sum/avg by)', tags: ['monitor'], querystring: Query } }, async (req) => {
    const qs = req.query as { q: string; since?: string; until?: string; step?: string };
    const restrict = await scoped(req, 'QueryMetrics');
    const expr = parseQuery(qs.q);
    const now = Date.now();
    const to = timeArg(qs.until, now, '/until', now);
    const from = timeArg(qs.since, now, '/since', now - 600_000);
    if (from > to) throw invalid('/since', 'since is after until');
    const stepMs = qs.step ? parseDuration(qs.step) : Math.max(1000, Math.ceil((to - from) / 250 / 1000) * 1000);
    if (!stepMs) throw invalid('/step', `'${qs.step}' is not a duration (e.g. 10s)`);
    if ((to - from) / stepMs > 11_000) throw invalid('/step', 'too many points: at most 11 000 steps per query');
    const result = evaluate(db, expr, { from, to, stepMs, restrict });
    return {
      query: qs.q, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: stepMs / 1000,
      result: result.map((r) => ({ metric: r.metric, labels: r.labels, values: r.points.map(([t, v]) => [t / 1000, v]) })),
    };
  });

  app.get('/metrics/names', { schema: { summary: 'Metric names with data', tags: ['monitor'], querystring: Scoped } }, async (req) => {
    const restrict = await scoped(req, 'QueryMetrics');
    const names = new Set(db.all().filter((s) => !restrict || s.labels.project === restrict.project).map((s) => s.name));
    return { items: [...names].sort() };
  });

  app.post('/metrics/push', { schema: { summary: 'Push custom metric samples (labelled with your project)', tags: ['monitor'], body: Push, querystring: Scoped } }, async (req, reply) => {
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, 'monitor:PutMetricData', ctx.authz.resourceName('monitor', scope.project.id, 'metrics/*'), { 'yun:SourceIp': req.ip });
    const { samples } = req.body as { samples: { metric: string; labels?: Labels; value: number; type?: 'gauge' | 'counter' }[] };
    const now = Date.now();
    for (const s of samples) {
      if (!METRIC_NAME_RE.test(s.metric)) throw invalid('/samples/metric', `bad metric name '${s.metric}'`);
      db.append(s.metric, { ...s.labels, project: scope.project.id }, s.value, { t: now, type: s.type ?? 'gauge', help: 'custom metric' });
    }
    return reply.code(202).send({ accepted: samples.length });
  });

  app.get('/metrics/prometheus', { schema: { summary: 'Every series\' latest sample in Prometheus text format', tags: ['monitor'], querystring: Scoped } }, async (req, reply) => {
    const restrict = await scoped(req, 'QueryMetrics');
    const series = db.all().filter((s) => !restrict || s.labels.project === restrict.project);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(exposition(series));
  });
}
