/**
 * Prometheus text exposition (format 0.0.4) of the latest sample of every
 * series: what a real Prometheus scrapes from `/v1/metrics/prometheus`.
 * Only this file knows the wire format.
 */
import type { Series } from './tsdb.ts';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const num = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/** Label names Prometheus accepts; others are dropped. */
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function exposition(series: Series[]): string {
  const byName = new Map<string, Series[]>();
  for (const s of series) {
    if (!s.raw.length || !METRIC_NAME_RE.test(s.name)) continue;
    const l = byName.get(s.name);
    if (l) l.push(s); else byName.set(s.name, [s]);
  }
  const out: string[] = [];
  for (const name of [...byName.keys()].sort()) {
    const group = byName.get(name)!;
    const first = group[0]!;
    if (first.help) out.push(`# HELP ${name} ${escHelp(first.help)}`);
    out.push(`# TYPE ${name} ${first.type}`);
    for (const s of group) {
      const p = s.raw[s.raw.length - 1]!;
      const labels = Object.keys(s.labels).filter((k) => LABEL_RE.test(k) && !k.startsWith('__')).sort()
        .map((k) => `${k}="${esc(s.labels[k]!)}"`).join(',');
      out.push(`${name}${labels ? `{${labels}}` : ''} ${num(p.v)} ${Math.round(p.t)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
