/**
 * A small PromQL-like query language over the time-series store:
 *
 *   cpu_percent{app="shop",instance!="x",project=~"p-.*"}
 *   rate(http_requests_total{app="shop"}[1m])
 *   avg_over_time | max_over_time | min_over_time | sum_over_time | count_over_time (sel[range])
 *   increase(sel[range])   quantile_over_time(0.95, sel[range])
 *   sum | avg | max | min | count [by (label, …)] (expr)     (or `sum(expr) by (label)`)
 *
 * A syntax error is a ValidationFailed (400) whose message names the
 * position. Evaluation is a range query: one value per step in [from, to];
 * a bare selector takes the last sample within the lookback.
 */
import { YunError } from '../core/errors.ts';
import type { Labels, Point, TimeSeriesStore } from './tsdb.ts';

export type MatchOp = '=' | '!=' | '=~' | '!~';
export interface Matcher { label: string; op: MatchOp; value: string; re?: RegExp }
export interface SelectorExpr { type: 'selector'; name: string; matchers: Matcher[]; rangeMs?: number }
export interface FuncExpr { type: 'func'; fn: RangeFn; arg: SelectorExpr; param?: number }
export interface AggExpr { type: 'agg'; op: AggOp; by?: string[]; expr: Expr }
export type Expr = SelectorExpr | FuncExpr | AggExpr;

const RANGE_FNS = ['rate', 'increase', 'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time'] as const;
type RangeFn = (typeof RANGE_FNS)[number];
const AGG_OPS = ['sum', 'avg', 'max', 'min', 'count'] as const;
type AggOp = (typeof AGG_OPS)[number];

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `10m`, `30s`, `1h30m`, `500ms` → milliseconds; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let i = 0;
  if (!s) return undefined;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    i = re.lastIndex;
  }
  return total;
}

const syntax = (q: string, pos: number, msg: string) =>
  new YunError('ValidationFailed', `query syntax error at position ${pos + 1}: ${msg} (near '${q.slice(pos, pos + 12)}')`, { field: '/q', details: { position: pos + 1 } });

class Parser {
  i = 0;
  constructor(readonly q: string) {}
  ws(): void { while (/\s/.test(this.q[this.i] ?? '')) this.i++; }
  peek(s: string): boolean { this.ws(); return this.q.startsWith(s, this.i); }
  eat(s: string): void {
    if (!this.peek(s)) throw syntax(this.q, this.i, `expected '${s}'`);
    this.i += s.length;
  }
  ident(what = 'a name'): string {
    this.ws();
    const m = /[a-zA-Z_:][a-zA-Z0-9_:.-]*/y;
    m.lastIndex = this.i;
    const r = m.exec(this.q);
    if (!r) throw syntax(this.q, this.i, `expected ${what}`);
    this.i = m.lastIndex;
    return r[0];
  }
  string(): string {
    this.ws();
    const quote = this.q[this.i];
    if (quote !== '"' && quote !== "'") throw syntax(this.q, this.i, 'expected a quoted string');
    let out = '';
    let j = this.i + 1;
    for (; j < this.q.length && this.q[j] !== quote; j++) {
      if (this.q[j] === '\\' && j + 1 < this.q.length) j++;
      out += this.q[j];
    }
    if (j >= this.q.length) throw syntax(this.q, this.i, 'unterminated string');
    this.i = j + 1;
    return out;
  }
  number(): number {
    this.ws();
    const m = /-?\d+(\.\d+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.q);
    if (!r) throw syntax(this.q, this.i, 'expected a number');
    this.i = m.lastIndex;
    return Number(r[0]);
  }
  labelList(): string[] {
    this.eat('(');
    const out: string[] = [];
    while (!this.peek(')')) {
      out.push(this.ident('a label name'));
      if (!this.peek(')')) this.eat(',');
    }
    this.eat(')');
    return out;
  }

  expr(): Expr {
    this.ws();
    const start = this.i;
    const name = this.ident('a metric name or function');
    if ((AGG_OPS as readonly string[]).includes(name) && (this.peek('(') || this.peek('by'))) {
      let by: string[] | undefined;
      if (this.peek('by')) { this.eat('by'); by = this.labelList(); }
      this.eat('(');
      const inner = this.expr();
      this.eat(')');
      if (!by && this.peek('by')) { this.eat('by'); by = this.labelList(); }
      return { type: 'agg', op: name as AggOp, by, expr: inner };
    }
    if ((RANGE_FNS as readonly string[]).includes(name) && this.peek('(')) {
      this.eat('(');
      let param: number | undefined;
      if (name === 'quantile_over_time') {
        param = this.number();
        if (param < 0 || param > 1) throw syntax(this.q, this.i, 'quantile must be between 0 and 1');
        this.eat(',');
      }
      const at = this.i;
      const arg = this.expr();
      if (arg.type !== 'selector' || arg.rangeMs === undefined) throw syntax(this.q, at, `${name}() needs a range selector like metric{…}[1m]`);
      this.eat(')');
      return { type: 'func', fn: name as RangeFn, arg, param };
    }
    if (this.peek('(')) throw syntax(this.q, start, `unknown function '${name}'`);
    const sel: SelectorExpr = { type: 'selector', name, matchers: [] };
    if (this.peek('{')) {
      this.eat('{');
      while (!this.peek('}')) {
        const label = this.ident('a label name');
        this.ws();
        const op = (['=~', '!~', '!=', '='] as MatchOp[]).find((o) => this.q.startsWith(o, this.i));
        if (!op) throw syntax(this.q, this.i, "expected one of = != =~ !~");
        this.i += op.length;
        const at = this.i;
        const value = this.string();
        const m: Matcher = { label, op, value };
        if (op === '=~' || op === '!~') {
          try { m.re = new RegExp(`^(?:${value})$`); } catch { throw syntax(this.q, at, 'bad regular expression'); }
        }
        sel.matchers.push(m);
        if (!this.peek('}')) this.eat(',');
      }
      this.eat('}');
    }
    if (this.peek('[')) {
      this.eat('[');
      this.ws();
      const at = this.i;
      const end = this.q.indexOf(']', this.i);
      if (end < 0) throw syntax(this.q, at, "expected ']'");
      const d = parseDuration(this.q.slice(this.i, end).trim());
      if (!d) throw syntax(this.q, at, 'bad duration (use e.g. 30s, 5m, 1h)');
      sel.rangeMs = d;
      this.i = end + 1;
    }
    return sel;
  }
}

export function parseQuery(q: string): Expr {
  if (!q.trim()) throw syntax(q, 0, 'empty query');
  const p = new Parser(q);
  const e = p.expr();
  p.ws();
  if (p.i < q.length) throw syntax(q, p.i, 'unexpected text after the expression');
  return e;
}

export interface RangeResult { metric: string; labels: Labels; points: [number, number][] }
export interface EvalOptions {
  from: number; to: number; stepMs: number; lookbackMs?: number;
  /** Labels every selected series must carry (a project's own series only). */
  restrict?: Labels;
}

const matches = (labels: Labels, ms: Matcher[]) => ms.every((m) => {
  const v = labels[m.label] ?? '';
  switch (m.op) {
    case '=': return v === m.value;
    case '!=': return v !== m.value;
    case '=~': return m.re!.test(v);
    case '!~': return !m.re!.test(v);
    default: return false;
  }
});

function counterDelta(ps: Point[]): number {
  let d = 0;
  for (let i = 1; i < ps.length; i++) d += ps[i]!.v >= ps[i - 1]!.v ? ps[i]!.v - ps[i - 1]!.v : ps[i]!.v;
  return d;
}

function rangeFn(fn: RangeFn, ps: Point[], rangeMs: number, param?: number): number | undefined {
  if (!ps.length) return undefined;
  const vs = ps.map((p) => p.v);
  switch (fn) {
    case 'rate': case 'increase': {
      if (ps.length < 2) return undefined;
      const d = counterDelta(ps);
      const secs = (ps[ps.length - 1]!.t - ps[0]!.t) / 1000;
      if (secs <= 0) return undefined;
      return fn === 'rate' ? d / secs : d * (rangeMs / 1000 / secs);
    }
    case 'avg_over_time': return vs.reduce((a, b) => a + b, 0) / vs.length;
    case 'max_over_time': return Math.max(...vs);
    case 'min_over_time': return Math.min(...vs);
    case 'sum_over_time': return vs.reduce((a, b) => a + b, 0);
    case 'count_over_time': return vs.length;
    case 'quantile_over_time': {
      const s = [...vs].sort((a, b) => a - b);
      const rank = (param ?? 0.5) * (s.length - 1);
      const lo = Math.floor(rank);
      return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (rank - lo);
    }
  }
}

function steps(o: EvalOptions): number[] {
  const out: number[] = [];
  const step = Math.max(o.stepMs, 1);
  // At most 11 000 points per series: a day at 10 s with room.
  const first = o.to - Math.min(Math.floor((o.to - o.from) / step), 11_000) * step;
  for (let t = first; t <= o.to; t += step) out.push(t);
  return out;
}

/** Evaluates an expression as a range query. */
export function evaluate(db: TimeSeriesStore, e: Expr, o: EvalOptions): RangeResult[] {
  const ts = steps(o);
  const lookback = o.lookbackMs ?? Math.max(o.stepMs * 2, 30_000);
  if (e.type === 'selector' || e.type === 'func') {
    const sel = e.type === 'selector' ? e : e.arg;
    const window = e.type === 'func' ? sel.rangeMs! : (sel.rangeMs ?? lookback);
    const out: RangeResult[] = [];
    for (const s of db.select(sel.name)) {
      if (!matches(s.labels, sel.matchers)) continue;
      if (o.restrict && Object.entries(o.restrict).some(([k, v]) => s.labels[k] !== v)) continue;
      const all = db.points(s, ts[0]! - window, o.to);
      const points: [number, number][] = [];
      let lo = 0;
      let hi = 0;
      for (const t of ts) {
        while (hi < all.length && all[hi]!.t <= t) hi++;
        while (lo < hi && all[lo]!.t <= t - window) lo++;
        if (lo === hi) continue;
        const v = e.type === 'func' ? rangeFn(e.fn, all.slice(lo, hi), window, e.param) : all[hi - 1]!.v;
        if (v !== undefined && Number.isFinite(v)) points.push([t, v]);
      }
      if (points.length) out.push({ metric: s.name, labels: s.labels, points });
    }
    return out;
  }
  const inner = evaluate(db, e.expr, o);
  const groups = new Map<string, { labels: Labels; byT: Map<number, number[]> }>();
  for (const r of inner) {
    const labels: Labels = {};
    for (const k of e.by ?? []) if (r.labels[k] !== undefined) labels[k] = r.labels[k]!;
    const key = JSON.stringify(labels);
    let g = groups.get(key);
    if (!g) { g = { labels, byT: new Map() }; groups.set(key, g); }
    for (const [t, v] of r.points) { const a = g.byT.get(t); if (a) a.push(v); else g.byT.set(t, [v]); }
  }
  const agg = (vs: number[]) => {
    switch (e.op) {
      case 'sum': return vs.reduce((a, b) => a + b, 0);
      case 'avg': return vs.reduce((a, b) => a + b, 0) / vs.length;
      case 'max': return Math.max(...vs);
      case 'min': return Math.min(...vs);
      case 'count': return vs.length;
    }
  };
  const name = inner[0]?.metric ?? '';
  return [...groups.values()].map((g) => ({
    metric: name, labels: g.labels,
    points: [...g.byT.entries()].sort((a, b) => a[0] - b[0]).map(([t, vs]) => [t, agg(vs)] as [number, number]),
  }));
}

/** The latest value of each result series at `now` (alarms, autoscaler). */
export function instant(db: TimeSeriesStore, q: string | Expr, now: number, o: { lookbackMs?: number; restrict?: Labels } = {}): { labels: Labels; value: number }[] {
  const e = typeof q === 'string' ? parseQuery(q) : q;
  return evaluate(db, e, { from: now, to: now, stepMs: 1000, lookbackMs: o.lookbackMs ?? 30_000, restrict: o.restrict })
    .flatMap((r) => (r.points.length ? [{ labels: r.labels, value: r.points[r.points.length - 1]![1] }] : []));
}
