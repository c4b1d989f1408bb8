/**
 * The collector: one pass turns what happened since its watermark into
 * usage records.
 *
 * 1. Event-derived meters: follows the resource event log from the stored
 *    watermark; each resource has an open interval (its per-second rates
 *    since a time). A change of rates closes the interval into records, so
 *    instance time is measured between real state transitions, to the
 *    millisecond. Open intervals are also closed at each whole hour, so
 *    records never span an hour (nor a price change, which falls on hours).
 * 2. Gauges (bytes per bucket) sampled since their last sample.
 * 3. Counters drained from the in-process UsageSink.
 *
 * Records, interval state and watermark commit in one transaction, and
 * records are keyed (sku, resource, period start, source) and inserted with
 * ON CONFLICT DO NOTHING: a re-run from an older watermark (crash, restore,
 * a second collector) rewrites the same keys and adds nothing. A clock that
 * goes backwards yields no usage, never negative usage.
 */
import type { Resource } from '../core/resource.ts';
import { EventBus } from '../store/resources.ts';
import type { Sql, StateStore } from '../store/types.ts';
import { type Rate, METERED_KINDS, quantityFor, ratesFor } from './rates.ts';
import { type UsageRecord, insertRecords, getWatermark, setWatermark } from './records.ts';
import { hourCuts } from './rating.ts';
import type { BufferedUsageSink, CounterSource, GaugeSource } from './sink.ts';

const HOUR = 3_600_000;

export interface CollectorOptions {
  store: StateStore;
  now?: () => number;
  sink?: BufferedUsageSink;
  /** Identifies this process's sink in record keys (host id). */
  sinkId?: string;
  gauges?: GaugeSource[];
  /** Asked to push their counts into `sink` just before each drain. */
  counters?: Set<CounterSource>;
  /** Price change instants; periods are cut there too. */
  cuts?: () => number[];
  /** Events read per transaction. */
  batch?: number;
}

interface Interval { resourceId: string; project: string; kind: string; name: string; labels: Record<string, string>; rates: Rate[]; since: number }

interface IntervalRow { resource_id: string; project: string; kind: string; name: string; labels: string; rates: string; since_ms: number | string }
const fromRow = (r: IntervalRow): Interval => ({
  resourceId: r.resource_id, project: r.project, kind: r.kind, name: r.name, labels: JSON.parse(r.labels), rates: JSON.parse(r.rates), since: Number(r.since_ms),
});

export const EVENTS_WATERMARK = 'events-seq';

export interface CollectResult { events: number; records: number; watermark: number }

export class Collector {
  private readonly now: () => number;
  private sinkSince: number;

  constructor(private readonly o: CollectorOptions) {
    this.now = o.now ?? Date.now;
    this.sinkSince = this.now();
  }

  private cutsIn(start: number, end: number): number[] {
    const extra = (this.o.cuts?.() ?? []).filter((c) => c > start && c < end);
    return [...new Set([...hourCuts(start, end), ...extra])].sort((a, b) => a - b);
  }

  /** Records for an interval's rates over [from, to), one per piece between hour/price cuts. */
  intervalRecords(iv: Interval, from: number, to: number): UsageRecord[] {
    if (to <= from || iv.rates.length === 0) return [];
    const edges = [from, ...this.cutsIn(from, to), to];
    const out: UsageRecord[] = [];
    for (let i = 0; i < edges.length - 1; i++) {
      const [a, b] = [edges[i]!, edges[i + 1]!];
      for (const rate of iv.rates) {
        out.push({
          project: iv.project, sku: rate.sku, resourceId: iv.resourceId, resourceKind: iv.kind, resourceName: iv.name,
          labels: iv.labels, quantity: quantityFor(rate.perSecond, b - a), start: a, end: b, source: 'events',
        });
      }
    }
    return out;
  }

  /** One full pass: events, hour checkpoints, gauges, sink. */
  async collect(): Promise<CollectResult> {
    let events = 0;
    let records = 0;
    for (;;) {
      const r = await this.o.store.tx((q) => this.eventBatch(q));
      events += r.events;
      records += r.records;
      if (!r.more) break;
    }
    records += await this.o.store.tx((q) => this.checkpoint(q));
    records += await this.sampleGauges();
    records += await this.flushSink();
    return { events, records, watermark: (await getWatermark(this.o.store, EVENTS_WATERMARK)) ?? 0 };
  }

  private async eventBatch(q: Sql): Promise<{ events: number; records: number; more: boolean }> {
    const after = (await getWatermark(q, EVENTS_WATERMARK)) ?? 0;
    const bus = new EventBus(q as StateStore);
    const { events, last, more } = await bus.read(after, { kinds: [...METERED_KINDS] }, this.o.batch ?? 500);
    if (last === after) return { events: 0, records: 0, more: false };
    const touched = new Map<string, Interval | null>();
    const load = async (id: string) => {
      if (touched.has(id)) return touched.get(id) ?? undefined;
      const row = await q.get<IntervalRow>('SELECT * FROM metering_intervals WHERE resource_id = ?', [id]);
      const iv = row ? fromRow(row) : undefined;
      touched.set(id, iv ?? null);
      return iv;
    };
    const out: UsageRecord[] = [];
    for (const e of events) {
      const obj = e.object as Resource;
      const at = Date.parse(e.at);
      const rates = e.type === 'DELETED' ? [] : ratesFor(obj);
      const cur = await load(obj.id);
      if (cur && JSON.stringify(cur.rates) === JSON.stringify(rates)) {
        cur.labels = obj.labels ?? {};
        cur.name = obj.name;
        continue;
      }
      const t = cur ? Math.max(at, cur.since) : at;
      if (cur) out.push(...this.intervalRecords(cur, cur.since, t));
      touched.set(obj.id, rates.length === 0 ? null : {
        resourceId: obj.id, project: obj.project, kind: obj.kind, name: obj.name, labels: obj.labels ?? {}, rates, since: t,
      });
    }
    const added = await insertRecords(q, out, this.now());
    for (const [id, iv] of touched) await this.saveInterval(q, id, iv);
    await setWatermark(q, EVENTS_WATERMARK, last);
    return { events: events.length, records: added, more };
  }

  private async saveInterval(q: Sql, id: string, iv: Interval | null): Promise<void> {
    if (!iv) {
      await q.run('DELETE FROM metering_intervals WHERE resource_id = ?', [id]);
      return;
    }
    await q.run(`INSERT INTO metering_intervals (resource_id, project, kind, name, labels, rates, since_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (resource_id) DO UPDATE SET project = excluded.project, kind = excluded.kind, name = excluded.name,
      labels = excluded.labels, rates = excluded.rates, since_ms = excluded.since_ms`,
    [id, iv.project, iv.kind, iv.name, JSON.stringify(iv.labels), JSON.stringify(iv.rates), iv.since]);
  }

  /** Closes open intervals at the last whole hour, so finished hours are on record. */
  private async checkpoint(q: Sql): Promise<number> {
    const h = Math.floor(this.now() / HOUR) * HOUR;
    const open = (await q.all<IntervalRow>('SELECT * FROM metering_intervals WHERE since_ms < ?', [h])).map(fromRow);
    const out: UsageRecord[] = [];
    for (const iv of open) {
      out.push(...this.intervalRecords(iv, iv.since, h));
      await q.run('UPDATE metering_intervals SET since_ms = ? WHERE resource_id = ? AND since_ms = ?', [h, iv.resourceId, iv.since]);
    }
    return insertRecords(q, out, this.now());
  }

  /** Usage of open intervals from their start to now: not recorded, shown as unbilled usage. */
  async openUsage(project?: string): Promise<UsageRecord[]> {
    const now = this.now();
    const rows = project === undefined
      ? await this.o.store.all<IntervalRow>('SELECT * FROM metering_intervals')
      : await this.o.store.all<IntervalRow>('SELECT * FROM metering_intervals WHERE project = ?', [project]);
    return rows.map(fromRow).flatMap((iv) => this.intervalRecords(iv, iv.since, Math.max(now, iv.since)));
  }

  private async sampleGauges(): Promise<number> {
    let added = 0;
    for (const g of this.o.gauges ?? []) {
      const samples = await g.sample();
      const now = this.now();
      added += await this.o.store.tx(async (q) => {
        const out: UsageRecord[] = [];
        for (const s of samples) {
          const row = await q.get<{ last_ms: number | string }>('SELECT last_ms FROM metering_gauges WHERE sku = ? AND resource_id = ?', [g.sku, s.resource.id]);
          const last = row ? Number(row.last_ms) : undefined;
          if (last !== undefined && now <= last) continue;
          if (last !== undefined) {
            const edges = [last, ...this.cutsIn(last, now), now];
            const den = BigInt(Math.round(1000 * g.divisor));
            const v = BigInt(Math.max(0, Math.round(s.value)));
            for (let i = 0; i < edges.length - 1; i++) {
              const ms = BigInt(edges[i + 1]! - edges[i]!);
              out.push({
                project: s.project, sku: g.sku, resourceId: s.resource.id, resourceKind: s.resource.kind, resourceName: s.resource.name,
                labels: s.labels ?? {}, quantity: (v * ms * 2n + den) / (2n * den), start: edges[i]!, end: edges[i + 1]!, source: 'gauge',
              });
            }
          }
          await q.run(`INSERT INTO metering_gauges (sku, resource_id, last_ms) VALUES (?, ?, ?)
            ON CONFLICT (sku, resource_id) DO UPDATE SET last_ms = excluded.last_ms`, [g.sku, s.resource.id, now]);
        }
        return insertRecords(q, out, now);
      });
    }
    return added;
  }

  private async flushSink(): Promise<number> {
    const sink = this.o.sink;
    if (!sink) return 0;
    for (const c of this.o.counters ?? []) await c(sink).catch(() => undefined); // a failed read is retried next pass: the source keeps its counts
    const now = this.now();
    const start = this.sinkSince;
    if (now <= start) return 0;
    const items = sink.drain();
    if (items.length === 0) { this.sinkSince = now; return 0; }
    const source = `sink:${this.o.sinkId ?? 'local'}`;
    const recs: UsageRecord[] = items.map((i) => ({
      project: i.project, sku: i.sku, resourceId: i.resource.id, resourceKind: i.resource.kind, resourceName: i.resource.name,
      labels: i.labels ?? {}, quantity: i.quantity, start, end: now, source,
    }));
    try {
      const n = await this.o.store.tx((q) => insertRecords(q, recs, now));
      this.sinkSince = now;
      return n;
    } catch (e) {
      sink.restore(items);
      throw e;
    }
  }
}
