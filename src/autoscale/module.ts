/**
 * Elasticity as a cloud module: `autoscaler` policies, `instance-group`s
 * and their controllers, rightsizing recommendations. Reads metrics from
 * the monitor module's time-series store and the apps router in-process;
 * creates group members through compute's image service.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { RouterMetrics } from '../apps/metrics.ts';
import type { ImageService } from '../compute/images-service.ts';
import type { CloudConfig } from '../core/config.ts';
import { invalid } from '../core/errors.ts';
import { parseDuration } from '../monitor/query.ts';
import type { TimeSeriesStore } from '../monitor/tsdb.ts';
import type { ServiceModule } from '../services.ts';
import { AutoscaleController } from './controller.ts';
import { GroupController, groupRoutes } from './groups.ts';
import { policyRoutes } from './policy.ts';
import { recommend } from './recommend.ts';

export interface AutoscaleOptions {
  /** The monitor module's store (cpu/memory/custom metrics). */
  db: TimeSeriesStore;
  images?: () => ImageService | undefined;
  router?: () => RouterMetrics | undefined;
  evalMs?: number;
  tickMs?: number;
  groupResyncMs?: number;
}

export class AutoscaleModule implements ServiceModule {
  readonly name = 'autoscale';
  controller?: AutoscaleController;
  groups?: GroupController;

  constructor(_config: CloudConfig, private readonly o: AutoscaleOptions) {}

  routes(app: FastifyInstance, ctx: ApiContext): void {
    const images = this.o.images ?? (() => undefined);
    policyRoutes(app, ctx);
    groupRoutes(app, ctx, { images });
    const scoped = async (req: FastifyRequest, verb: string, what: string) => {
      const scope = await req.scope();
      await ctx.authz.authorize(req.principal!, scope, `autoscale:${verb}`, ctx.authz.resourceName('autoscale', scope.project.id, what), { 'yun:SourceIp': req.ip });
      return scope;
    };
    const Q = Type.Object({ project: Type.Optional(Type.String()) }, { additionalProperties: false });
    app.get('/autoscale/decisions', { schema: { summary: 'The last decision of each autoscaling policy, with its numbers', tags: ['autoscale'], querystring: Q } }, async (req) => {
      const scope = await scoped(req, 'ListDecisions', 'autoscaler/*');
      return { items: this.controller?.decisions(scope.project.id) ?? [] };
    });
    const RQ = Type.Object({ target: Type.String({ maxLength: 100 }), window: Type.Optional(Type.String()), project: Type.Optional(Type.String()) }, { additionalProperties: false });
    app.get('/recommendations', { schema: { summary: 'Rightsizing: a suggested flavor from observed usage (target app/x, group/x or instance/x)', tags: ['autoscale'], querystring: RQ } }, async (req) => {
      const qs = req.query as { target: string; window?: string };
      const scope = await scoped(req, 'GetRecommendation', qs.target);
      const windowMs = qs.window ? parseDuration(qs.window) : 3600_000;
      if (!windowMs) throw invalid('/window', `'${qs.window}' is not a duration`);
      return recommend(ctx.store, this.o.db, scope.project.id, qs.target, windowMs);
    });
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    this.groups = new GroupController({ store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, images: this.o.images ?? (() => undefined), resyncMs: this.o.groupResyncMs });
    await this.groups.start();
    this.controller = new AutoscaleController({ store: ctx.store, bus: ctx.bus, log: ctx.log, db: this.o.db, router: this.o.router, evalMs: this.o.evalMs, tickMs: this.o.tickMs });
    this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
    await this.groups?.stop();
  }

  describe(): Record<string, string> {
    return { autoscaler: `evaluates every ${(this.o.evalMs ?? 2000) / 1000}s; scale-up after 2s sustained, scale-down after 30s` };
  }
}

export function autoscaleModule(config: CloudConfig, o: AutoscaleOptions): AutoscaleModule {
  return new AutoscaleModule(config, o);
}
