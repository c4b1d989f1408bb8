/**
 * Monitoring as a cloud module: the time-series store (snapshot under
 * `<home>/monitor/tsdb.json`), the collector, alarms and the metrics routes.
 * Reads compute (driver stats) and apps (router metrics) in-process through
 * the getters it is given, so it works with either absent.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { RouterMetrics } from '../apps/metrics.ts';
import type { CloudConfig } from '../core/config.ts';
import type { ServiceModule } from '../services.ts';
import { AlarmEvaluator, type Notifier, alarmRoutes, webhookNotifier } from './alarms.ts';
import { MetricsCollector, type StatsSource } from './collector.ts';
import { metricsRoutes } from './routes.ts';
import { TimeSeriesStore, type TsdbOptions } from './tsdb.ts';

export interface MonitorOptions {
  /** Compute driver (per-instance stats). */
  stats?: () => StatsSource | undefined;
  /** Apps router traffic. */
  router?: () => RouterMetrics | undefined;
  /** Collection interval; default 5 000 ms (env YUN_METRICS_INTERVAL_MS). */
  intervalMs?: number;
  tsdb?: Omit<TsdbOptions, 'file'>;
  notifier?: Notifier;
}

export class MonitorModule implements ServiceModule {
  readonly name = 'monitor';
  readonly db: TimeSeriesStore;
  collector?: MetricsCollector;
  alarms?: AlarmEvaluator;
  private saving?: Promise<void>;

  constructor(config: CloudConfig, private readonly o: MonitorOptions = {}) {
    this.db = new TimeSeriesStore({ ...o.tsdb, file: join(config.home, 'monitor', 'tsdb.json') });
  }

  routes(app: FastifyInstance, ctx: ApiContext): void {
    metricsRoutes(app, ctx, this.db);
    alarmRoutes(app, ctx);
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    const loaded = await this.db.load();
    if (loaded) ctx.log.info({ series: loaded }, 'metrics snapshot loaded');
    this.alarms = new AlarmEvaluator({ store: ctx.store, db: this.db, log: ctx.log, notify: this.o.notifier ?? webhookNotifier(), poke: () => ctx.bus.poke() });
    this.collector = new MetricsCollector({
      store: ctx.store, db: this.db, log: ctx.log, hostId: ctx.hostId, stats: this.o.stats, router: this.o.router,
      intervalMs: this.o.intervalMs ?? (Number(process.env.YUN_METRICS_INTERVAL_MS) || 5000),
      afterRound: async () => {
        await this.alarms?.evaluateAll();
        // Snapshot every round; a slow disk skips rounds rather than queueing writes.
        this.saving ??= this.db.save().catch((e) => ctx.log.warn({ err: e }, 'metrics snapshot failed')).finally(() => { this.saving = undefined; });
      },
    });
    this.collector.start();
  }

  async stop(): Promise<void> {
    await this.collector?.stop();
    await this.alarms?.idle();
    await this.saving;
    await this.db.save().catch(() => undefined);
  }

  describe(): Record<string, string> {
    return { metrics: `every ${(this.collector?.intervalMs ?? this.o.intervalMs ?? 5000) / 1000}s, in memory + snapshot (raw ${this.db.rawRetentionMs / 3600_000}h, ${this.db.coarseStepMs / 60_000}min averages ${this.db.coarseRetentionMs / 86_400_000}d)` };
  }
}

export function monitorModule(config: CloudConfig, o: MonitorOptions = {}): MonitorModule {
  return new MonitorModule(config, o);
}
