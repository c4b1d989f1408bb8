/**
 * The metering service as a cloud module: tables, routes, and one
 * background loop (collect → close last month's invoices → evaluate
 * budgets) every `tickMs`.
 *
 * Other services report through `module.sink` (a UsageSink) and
 * `module.addGauge(...)`; see sink.ts.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { CloudConfig } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { ServiceModule } from '../services.ts';
import type { StateStore } from '../store/types.ts';
import { DAY, monthStart, nextMonth } from './aggregate.ts';
import { BudgetController, type Spend } from './budgets.ts';
import { type PriceCatalogue, loadCatalogue, priceChanges } from './catalogue.ts';
import { Collector } from './collector.ts';
import { explore, forecastMonth } from './explorer.ts';
import { GRACE_MS, closeMonth } from './invoices.ts';
import { meteringMigrations } from './migrations.ts';
import { getWatermark } from './records.ts';
import { meteringRoutes } from './routes.ts';
import { BufferedUsageSink, type CounterSource, type GaugeSource } from './sink.ts';

export interface MeteringOptions {
  /** The clock (tests); default Date.now. */
  now?: () => number;
  /** Background loop period; default 60 s. 0 = no loop (call `tick()`). */
  tickMs?: number;
  /** A catalogue instead of `$YUN_HOME/prices.yaml`. */
  catalogue?: PriceCatalogue;
  gauges?: GaugeSource[];
  fetch?: typeof fetch;
  /** Budget webhook retry pacing. */
  webhookBackoffMs?: number;
}

export class MeteringModule implements ServiceModule {
  readonly name = 'metering';
  readonly migrations = meteringMigrations;
  /** Hot-path counters from other services (S3 requests, bytes out). */
  readonly sink = new BufferedUsageSink();
  readonly now: () => number;
  private readonly gauges: GaugeSource[];
  collector?: Collector;
  budgets?: BudgetController;
  private store?: StateStore;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private log?: Logger;

  constructor(readonly catalogue: PriceCatalogue, private readonly o: MeteringOptions = {}) {
    this.now = o.now ?? Date.now;
    this.gauges = [...(o.gauges ?? [])];
  }

  /** Adds a sampled source (e.g. the objects service's bytes per bucket). */
  addGauge(g: GaugeSource): void { this.gauges.push(g); }

  private readonly counters = new Set<CounterSource>();
  /** Adds a counter source asked each pass (e.g. bytes out of published ports); returns its removal. */
  addCounterSource(c: CounterSource): () => void {
    this.counters.add(c);
    return () => this.counters.delete(c);
  }

  private ensure(ctx: ApiContext): void {
    if (this.collector) return;
    this.store = ctx.store;
    this.log = ctx.log;
    this.collector = new Collector({ store: ctx.store, now: this.now, sink: this.sink, sinkId: ctx.config.zone, gauges: this.gauges, counters: this.counters, cuts: () => priceChanges(this.catalogue) });
    this.budgets = new BudgetController({
      store: ctx.store, now: this.now, log: ctx.log, poke: () => ctx.bus.poke(), fetch: this.o.fetch, backoffMs: this.o.webhookBackoffMs,
      spend: (project, now) => this.spend(project, now),
    });
  }

  /** Month-to-date spend (recorded + still-open usage) and the month-end forecast. */
  async spend(project: string, now: number): Promise<Spend> {
    const unbilled = await this.collector!.openUsage(project);
    const r = await explore(this.store!, this.catalogue, { project, since: monthStart(now), until: now + 1, groupBy: 'service', now, unbilled });
    const actual = BigInt(r.totalMicro);
    return { actual, forecast: forecastMonth(actual, now), currency: this.catalogue.currency };
  }

  routes(app: FastifyInstance, ctx: ApiContext): void {
    this.ensure(ctx);
    meteringRoutes(app, ctx, this);
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    this.ensure(ctx);
    const every = this.o.tickMs ?? 60_000;
    if (every <= 0) return;
    const loop = () => {
      this.running = this.tick().catch((err) => this.log?.error({ err }, 'metering pass failed')).finally(() => {
        this.running = undefined;
        if (this.timer) this.timer = setTimeout(loop, every).unref();
      });
    };
    this.timer = setTimeout(loop, Math.min(every, 1000)).unref();
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }

  /** One pass: collect usage, close last month when due, evaluate budgets. */
  async tick(): Promise<void> {
    if (!this.collector || !this.store) throw new Error('metering module not started');
    await this.collector.collect();
    const now = this.now();
    if (now >= monthStart(now) + GRACE_MS) {
      // Close every finished month not closed yet (the cloud may have been down at a month's end).
      const prev = monthStart(monthStart(now) - 1);
      const closed = await getWatermark(this.store, 'closed-month');
      const first = await this.store.get<{ d: number | string | null }>('SELECT MIN(day) AS d FROM metering_daily');
      let m = closed !== undefined ? nextMonth(closed) : first?.d != null ? monthStart(Number(first.d) * DAY) : prev;
      for (let n = 0; m <= prev && n < 120; m = nextMonth(m), n++) {
        const month = new Date(m).toISOString().slice(0, 7);
        await this.store.tx((q) => closeMonth(q, this.catalogue, month, now));
      }
    }
    await this.budgets!.evaluate();
  }

  describe(): Record<string, string> {
    return { prices: `${this.catalogue.source} (${this.catalogue.region}, ${this.catalogue.currency})` };
  }
}

/** Builds the module, reading `$YUN_HOME/prices.yaml` (a bad file fails here, naming file and line). */
export async function meteringModule(config: CloudConfig, o: MeteringOptions = {}): Promise<MeteringModule> {
  const cat = o.catalogue ?? await loadCatalogue(join(config.home, 'prices.yaml'), config.region);
  return new MeteringModule(cat, o);
}
