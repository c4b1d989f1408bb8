/**
 * REST: /v1/prices, /v1/usage, /v1/invoices, /v1/estimates, /v1/budgets
 * (generic resource CRUD), /v1/metering/collect (cloud admins).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import { monthStart } from './aggregate.ts';
import { budgetBlocks, budgetDef } from './budgets.ts';
import type { PriceCatalogue } from './catalogue.ts';
import { type EstimateRequest, estimate } from './estimates.ts';
import { explore, parseGroupBy } from './explorer.ts';
import { getInvoice, invoiceCsv, invoiceMonths } from './invoices.ts';
import { METERS, meterOf } from './meters.ts';
import { formatMoney } from './money.ts';
import type { MeteringModule } from './module.ts';

/** Create routes of billable kinds, refused under an exceeded hard budget. */
export const BILLABLE_CREATES: ReadonlySet<string> = new Set(['/v1/instances', '/v1/volumes', '/v1/load-balancers', '/v1/floating-ips', '/v1/apps', '/v1/jobs']);

/** The catalogue as JSON: one row per sku and price version. */
export function priceList(cat: PriceCatalogue) {
  const items = [...cat.skus].sort(([a], [b]) => a.localeCompare(b)).flatMap(([sku, versions]) => {
    const m = METERS.get(meterOf(sku))!;
    return versions.map((v) => ({
      sku, service: m.service, unit: m.billingUnit, description: m.description,
      from: v.from ? new Date(v.from).toISOString() : undefined,
      price: v.tiers.length === 1 ? formatMoney(v.tiers[0]!.price, 6).replace(/0{1,4}$/, '') : undefined,
      tiers: v.tiers.length > 1 ? v.tiers.map((t) => ({ upTo: t.upTo === undefined ? undefined : Number(t.upTo / m.scale), price: formatMoney(t.price, 6).replace(/0{1,4}$/, '') })) : undefined,
    }));
  });
  return { region: cat.region, currency: cat.currency, source: cat.source, items };
}

function parseTime(v: string | undefined, field: string, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw invalid(`/${field}`, `'${v}' is not a date (ISO 8601)`);
  return t;
}

export function meteringRoutes(app: FastifyInstance, ctx: ApiContext, m: MeteringModule): void {
  const authorize = async (req: FastifyRequest, action: string, path: string) => {
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `metering:${action}`, ctx.authz.resourceName('metering', scope.project.id, path), { 'yun:SourceIp': req.ip });
    return scope;
  };

  registerResource(app, ctx, budgetDef());

  // Hard budgets: creating a billable resource is refused while the project's hard budget
  // is exceeded; existing resources keep running (starts and updates are not blocked).
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'POST' || !BILLABLE_CREATES.has(req.routeOptions.url ?? '')) return;
    const why = await budgetBlocks(ctx.store, (await req.scope()).project.id);
    if (why) throw new YunError('QuotaExceeded', `${why}: new billable resources are refused until the next period or a higher budget`);
  });

  app.get('/prices', { schema: { summary: 'The price catalogue of this region', tags: ['metering'] } }, async (req) => {
    await authorize(req, 'GetPrices', 'prices');
    return priceList(m.catalogue);
  });

  const UsageQuery = Type.Object({
    since: Type.Optional(Type.String()), until: Type.Optional(Type.String()), groupBy: Type.Optional(Type.String()),
    allProjects: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()),
  }, { additionalProperties: false });
  app.get('/usage', { schema: { summary: 'Cost explorer: usage and cost grouped by service, sku, resource, label:<key>, day or project', tags: ['metering'], querystring: UsageQuery } }, async (req) => {
    const qs = req.query as { since?: string; until?: string; groupBy?: string; allProjects?: boolean };
    const scope = await authorize(req, 'GetUsage', 'usage');
    const all = qs.allProjects === true && scope.role === 'system-admin';
    const now = m.now();
    const since = parseTime(qs.since, 'since', monthStart(now));
    const until = parseTime(qs.until, 'until', Math.max(now + 1, since + 1));
    const project = all ? undefined : scope.project.id;
    const unbilled = until > now - 3_600_000 ? await m.collector!.openUsage(project) : [];
    const r = await explore(ctx.store, m.catalogue, { project, since, until, groupBy: parseGroupBy(qs.groupBy), now, unbilled });
    return { project: all ? '*' : scope.project.name, ...r };
  });

  app.get('/invoices', { schema: { summary: 'Invoices of the project, newest first', tags: ['metering'] } }, async (req) => {
    const scope = await authorize(req, 'ListInvoices', 'invoice/*');
    const now = m.now();
    const unbilled = await m.collector!.openUsage(scope.project.id);
    const items = [];
    for (const month of await invoiceMonths(ctx.store, scope.project.id, now)) {
      const inv = await getInvoice(ctx.store, m.catalogue, scope.project.id, month, { now, unbilled });
      items.push({ month, state: inv.state, total: inv.total, currency: inv.currency, lines: inv.lines.length });
    }
    return { items };
  });

  const InvParams = Type.Object({ month: Type.String({ maxLength: 7 }) });
  const InvQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])), project: Type.Optional(Type.String()) }, { additionalProperties: false });
  app.get('/invoices/:month', { schema: { summary: 'One month\'s invoice (JSON or ?format=csv)', tags: ['metering'], params: InvParams, querystring: InvQuery } }, async (req, reply) => {
    const { month } = req.params as { month: string };
    const { format } = req.query as { format?: 'json' | 'csv' };
    const scope = await authorize(req, 'GetInvoice', `invoice/${month}`);
    const now = m.now();
    const inv = await getInvoice(ctx.store, m.catalogue, scope.project.id, month, { now, unbilled: await m.collector!.openUsage(scope.project.id) });
    const out = { ...inv, projectName: scope.project.name };
    if (format === 'csv') {
      return reply.header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="invoice-${scope.project.name}-${month}.csv"`).send(invoiceCsv(out));
    }
    return out;
  });

  const EstimateBody = Type.Object({
    type: Type.String({ maxLength: 32 }),
    gb: Type.Optional(Type.Number()), months: Type.Optional(Type.Number()), hours: Type.Optional(Type.Number()),
    flavor: Type.Optional(Type.String({ maxLength: 63 })), vcpus: Type.Optional(Type.Number()), memoryMb: Type.Optional(Type.Number()),
    count: Type.Optional(Type.Number()), runtime: Type.Optional(Type.Union([Type.Literal('vm'), Type.Literal('container')])),
    name: Type.Optional(Type.String({ maxLength: 63 })), replicas: Type.Optional(Type.Number()),
    minReplicas: Type.Optional(Type.Number()), maxReplicas: Type.Optional(Type.Number()), volumeType: Type.Optional(Type.String({ maxLength: 63 })),
  }, { additionalProperties: false });
  app.post('/estimates', { schema: { summary: 'Estimate the cost of planned storage, volumes, instances, apps or data out', tags: ['metering'], body: EstimateBody } }, async (req) => {
    const scope = await authorize(req, 'CreateEstimate', 'estimate');
    return estimate(ctx.store, m.catalogue, scope.project.id, req.body as EstimateRequest, m.now());
  });

  app.post('/metering/collect', { schema: { summary: 'Run a metering pass now (cloud admins)', tags: ['metering'] } }, async (req) => {
    const scope = await req.scope();
    if (scope.role !== 'system-admin') throw new YunError('Forbidden', 'only cloud admins may run a metering pass');
    await m.tick();
    return { ok: true, at: new Date(m.now()).toISOString() };
  });

}
