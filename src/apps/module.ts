/**
 * The apps service as a cloud module: the REST routes, the router on
 * `config.routerPort` and the app controller. Needs the compute module (its
 * image store and driver) in the same control plane to run replicas.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { ComputeModule } from '../compute/module.ts';
import type { CloudConfig } from '../core/config.ts';
import type { ServiceModule } from '../services.ts';
import { AppController } from './controller.ts';
import { applyRoutes } from './kube/routes.ts';
import { logRoutes } from './logs.ts';
import type { RouterMetrics } from './metrics.ts';
import { AppRouter } from './router.ts';
import { appRoutes } from './service.ts';
import { SourceStore, sourceRoutes } from './source.ts';
import { SourceBuilder } from './builder.ts';
import { join } from 'node:path';
import type { CounterSource } from '../metering/sink.ts';
import { Resources } from '../store/resources.ts';

export interface AppsOptions {
  compute?: ComputeModule;
  /** Router listen port; default config.routerPort (0 = any free port). */
  routerPort?: number;
  resyncMs?: number;
  drainGraceMs?: number;
  replaceUnhealthyAfterMs?: number;
  /** Give replicas a security group open on the app port (default: when compute has the network service). */
  networkGroups?: boolean;
  /** Metering asks, each pass, for the bytes the router sent out per app. */
  metering?: { addCounterSource(c: CounterSource): () => void };
}

export class AppsModule implements ServiceModule {
  readonly name = 'apps';
  readonly router: AppRouter;
  controller?: AppController;
  readonly sources: SourceStore;
  private builder?: SourceBuilder;

  constructor(private readonly config: CloudConfig, private readonly o: AppsOptions = {}) {
    this.router = new AppRouter({ host: config.host, port: o.routerPort ?? config.routerPort });
    this.sources = new SourceStore(join(config.home, 'apps', 'sources'));
  }

  /** Router traffic per app, for the autoscaler and monitoring (in-process). */
  get metrics(): RouterMetrics {
    return this.router.metrics;
  }

  routes(app: FastifyInstance, ctx: ApiContext): void {
    const compute = this.o.compute;
    const deps = {
      metrics: this.router.metrics,
      imageExists: compute ? async (c: { q: import('../store/types.ts').Sql; scope: { project: { id: string } } }, name: string) => {
        if (!compute.images) return true;
        return compute.images.resolve(c.q, c.scope.project.id, name).then(() => true, () => false);
      } : undefined,
      enqueue: (id: string) => this.controller?.enqueue(id),
    };
    appRoutes(app, ctx, deps);
    if (compute) logRoutes(app, ctx, (id) => compute.driver.logPath(id));
    sourceRoutes(app, ctx, this.sources, deps);
    applyRoutes(app, ctx, deps);
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    const port = await this.router.start();
    if (this.config.routerPort === 0) this.config.routerPort = port;
    const compute = this.o.compute;
    if (compute) this.builder = new SourceBuilder({ store: ctx.store, log: ctx.log, sources: this.sources, images: () => compute.images, bus: ctx.bus, workDir: join(this.config.home, 'apps', 'build') });
    this.controller = new AppController({
      store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, router: this.router,
      images: () => compute?.images,
      networkGroups: this.o.networkGroups ?? (compute !== undefined && compute.networking.name !== 'none'),
      build: this.builder ? (a, r) => this.builder!.build(a, r) : undefined,
      logTail: compute ? (id) => compute.driver.readLog(id, { tailBytes: 4096 }) : undefined,
      resyncMs: this.o.resyncMs, drainGraceMs: this.o.drainGraceMs, replaceUnhealthyAfterMs: this.o.replaceUnhealthyAfterMs,
    });
    await this.controller.start();
    const res = new Resources(ctx.store);
    this.unmeter = this.o.metering?.addCounterSource(async (sink) => {
      for (const { project, app, bytes } of this.router.metrics.takeBytesOut()) {
        const a = await res.get('app', project, app);
        if (a) sink.dataOut(project, { id: a.id, kind: a.kind, name: a.name }, bytes);
      }
    });
  }

  private unmeter?: () => void;

  async stop(): Promise<void> {
    this.unmeter?.();
    await this.controller?.stop();
    await this.builder?.idle();
    await this.router.stop();
  }

  describe(): Record<string, string> {
    return { 'apps router': `http://<app>.<project>.apps.localhost:${this.router.port || this.config.routerPort}` };
  }
}

export function appsModule(config: CloudConfig, o: AppsOptions = {}): AppsModule {
  return new AppsModule(config, o);
}
