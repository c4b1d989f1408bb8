/**
 * The built-in time-series store: in memory, bounded, with a periodic
 * snapshot to one file.
 *
 * Why not the state store: a sample every 5 s for every instance and app is
 * thousands of tiny writes a minute; through the resource table they would
 * flood the event log that controllers follow. Metrics are allowed to lose
 * the last interval on a crash, so memory plus an atomic snapshot
 * (write-temp-then-rename) each interval is enough: kill -9 loses at most
 * the samples taken since the last snapshot.
 *
 * Bounds: `maxSeries` series (the least recently written goes first);
 * per series a raw tier (every sample, kept `rawRetentionMs`) and a
 * downsampled tier (averages per `coarseStepMs`, kept `coarseRetentionMs`).
 * Raw points older than the raw retention fold into the coarse tier.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type Labels = Record<string, string>;
export interface Point { t: number; v: number }

export interface Series {
  name: string;
  labels: Labels;
  /** Counter or gauge: `rate`/`increase` are only meaningful on counters. */
  type: 'counter' | 'gauge';
  help?: string;
  raw: Point[];
  /** Averages per coarse step (t = bucket start). */
  coarse: Point[];
  /** Sum and count of the coarse bucket being filled. */
  pending?: { t: number; sum: number; n: number };
  touched: number;
}

export interface TsdbOptions {
  rawRetentionMs?: number;
  coarseStepMs?: number;
  coarseRetentionMs?: number;
  maxSeries?: number;
  /** Snapshot file; none = memory only. */
  file?: string;
  now?: () => number;
}

export const seriesKey = (name: string, labels: Labels) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;

export class TimeSeriesStore {
  private readonly series = new Map<string, Series>();
  readonly rawRetentionMs: number;
  readonly coarseStepMs: number;
  readonly coarseRetentionMs: number;
  readonly maxSeries: number;
  private readonly now: () => number;
  /** Samples appended since start (ingest figures). */
  appended = 0;

  constructor(private readonly o: TsdbOptions = {}) {
    this.rawRetentionMs = o.rawRetentionMs ?? 24 * 3600_000;
    this.coarseStepMs = o.coarseStepMs ?? 5 * 60_000;
    this.coarseRetentionMs = o.coarseRetentionMs ?? 30 * 24 * 3600_000;
    this.maxSeries = o.maxSeries ?? 20_000;
    this.now = o.now ?? Date.now;
  }

  /** Appends one sample. Out-of-order samples (older than the series' last) are dropped. */
  append(name: string, labels: Labels, v: number, o: { t?: number; type?: 'counter' | 'gauge'; help?: string } = {}): void {
    if (!Number.isFinite(v)) return;
    const t = o.t ?? this.now();
    const key = seriesKey(name, labels);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) this.evictOne();
      s = { name, labels: { ...labels }, type: o.type ?? 'gauge', help: o.help, raw: [], coarse: [], touched: t };
      this.series.set(key, s);
    }
    const last = s.raw[s.raw.length - 1];
    if (last && t <= last.t) return;
    s.raw.push({ t, v });
    s.touched = t;
    this.appended++;
    this.compact(s, t);
  }

  private evictOne(): void {
    let oldest: [string, Series] | undefined;
    for (const e of this.series) if (!oldest || e[1].touched < oldest[1].touched) oldest = e;
    if (oldest) this.series.delete(oldest[0]);
  }

  /** Moves raw points past retention into coarse buckets; drops coarse points past theirs. */
  private compact(s: Series, now: number): void {
    const cut = now - this.rawRetentionMs;
    let i = 0;
    while (i < s.raw.length && s.raw[i]!.t < cut) {
      const p = s.raw[i]!;
      const b = Math.floor(p.t / this.coarseStepMs) * this.coarseStepMs;
      if (s.pending && s.pending.t !== b) {
        s.coarse.push({ t: s.pending.t, v: s.type === 'counter' ? s.pending.sum : s.pending.sum / s.pending.n });
        s.pending = undefined;
      }
      s.pending ??= { t: b, sum: 0, n: 0 };
      // Counters keep the last value of the bucket (rate stays computable); gauges average.
      if (s.type === 'counter') { s.pending.sum = p.v; s.pending.n = 1; } else { s.pending.sum += p.v; s.pending.n++; }
      i++;
    }
    if (i) s.raw.splice(0, i);
    const ccut = now - this.coarseRetentionMs;
    let j = 0;
    while (j < s.coarse.length && s.coarse[j]!.t < ccut) j++;
    if (j) s.coarse.splice(0, j);
  }

  /** Series whose name matches (labels filtered by the caller). */
  select(name: string): Series[] {
    const out: Series[] = [];
    for (const s of this.series.values()) if (s.name === name) out.push(s);
    return out;
  }

  names(): string[] {
    return [...new Set([...this.series.values()].map((s) => s.name))].sort();
  }

  all(): Series[] {
    return [...this.series.values()];
  }

  /** Points of one series in [from, to], from the coarse tier where raw no longer reaches. */
  points(s: Series, from: number, to: number): Point[] {
    const rawStart = s.raw[0]?.t ?? Number.POSITIVE_INFINITY;
    const out: Point[] = [];
    if (from < rawStart) for (const p of s.coarse) if (p.t >= from && p.t <= to && p.t < rawStart) out.push(p);
    // Binary search the raw start.
    let lo = 0;
    let hi = s.raw.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (s.raw[m]!.t < from) lo = m + 1; else hi = m; }
    for (let k = lo; k < s.raw.length && s.raw[k]!.t <= to; k++) out.push(s.raw[k]!);
    return out;
  }

  /** Removes series of a label value (a deleted instance's series after retention ends, or at once). */
  drop(pred: (s: Series) => boolean): number {
    let n = 0;
    for (const [k, s] of this.series) if (pred(s)) { this.series.delete(k); n++; }
    return n;
  }

  /** Writes every series to the snapshot file atomically (temp file, then rename). */
  async save(): Promise<void> {
    if (!this.o.file) return;
    await mkdir(dirname(this.o.file), { recursive: true });
    const tmp = `${this.o.file}.tmp`;
    const body = JSON.stringify({ v: 1, series: [...this.series.values()] });
    await writeFile(tmp, body);
    await rename(tmp, this.o.file);
  }

  /** Loads the snapshot, if any; a torn or foreign file is ignored (metrics start empty). */
  async load(): Promise<number> {
    if (!this.o.file) return 0;
    const text = await readFile(this.o.file, 'utf8').catch(() => undefined);
    if (!text) return 0;
    let doc: { v: number; series: Series[] };
    try { doc = JSON.parse(text); } catch { return 0; }
    if (doc?.v !== 1 || !Array.isArray(doc.series)) return 0;
    for (const s of doc.series) this.series.set(seriesKey(s.name, s.labels), s);
    return doc.series.length;
  }
}
