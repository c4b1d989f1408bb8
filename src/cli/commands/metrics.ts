/**
 * `yun metrics …`:
 *   yun metrics query 'cpu_usage{app="shop"}' --since 10m --step 10s
 *   yun metrics names · yun metrics push queue_depth 12 --label queue=jobs · yun metrics prometheus
 */
import type { Command } from 'commander';
import { AutoscaleApi } from '../../sdk/autoscale.ts';
import type { CliEnv } from '../env.ts';

const labelPairs = (v: string, prev: Record<string, string> = {}) => {
  const m = /^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$/.exec(v);
  if (!m) throw new Error(`--label takes key=value, got '${v}'`);
  return { ...prev, [m[1]!]: m[2]! };
};

export function registerMetricsCommands(program: Command, env: CliEnv): void {
  const api = async () => new AutoscaleApi(await env.client());
  const m = program.command('metrics').description('query metrics, push custom metrics, Prometheus text');
  m.command('query <query>').option('--since <duration>', 'start: a duration ago (10m), an ISO time or unix seconds', '10m')
    .option('--until <time>').option('--step <duration>', 'resolution, e.g. 10s').option('--all-projects')
    .action(async (q: string, o: { since: string; until?: string; step?: string; allProjects?: boolean }) => {
      const r = await (await api()).query(q, { since: o.since, until: o.until, step: o.step, allProjects: o.allProjects });
      if (env.format() !== 'table') return env.out(r);
      const rows = r.result.map((s) => {
        const vs = s.values.map((x) => x[1]);
        const last = vs.at(-1);
        return { series: `${s.metric}{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`, points: vs.length, last: fmt(last), min: fmt(Math.min(...vs)), max: fmt(Math.max(...vs)), trend: spark(vs) };
      });
      env.out(rows, ['series', 'points', 'last', 'min', 'max', 'trend']);
    });
  m.command('names').action(async () => env.out((await (await api()).names()).items.map((name) => ({ name }))));
  m.command('push <metric> <value>').option('--label <key=value>', 'label (repeatable)', labelPairs).option('--counter', 'the value is a counter')
    .action(async (metric: string, value: string, o: { label?: Record<string, string>; counter?: boolean }) => {
      const v = Number(value);
      if (!Number.isFinite(v)) throw new Error(`value must be a number, got '${value}'`);
      env.out(await (await api()).push([{ metric, value: v, labels: o.label, type: o.counter ? 'counter' : 'gauge' }]));
    });
  m.command('prometheus').option('--all-projects').action(async (o: { allProjects?: boolean }) => {
    process.stdout.write(await (await api()).prometheus({ allProjects: o.allProjects }));
  });
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : String(Math.round(v * 1000) / 1000));
const BARS = '▁▂▃▄▅▆▇█';
function spark(vs: number[]): string {
  const xs = vs.slice(-40);
  if (!xs.length) return '';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return xs.map((v) => BARS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))]).join('');
}
