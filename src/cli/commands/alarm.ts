/**
 * `yun alarm …`:
 *   yun alarm create high-cpu --metric 'cpu_percent{app="shop"}' --above 80 --for 1m --notify webhook:http://…
 *   yun alarm list · show NAME (with history) · delete NAME
 */
import type { Command } from 'commander';
import { parseDuration } from '../../monitor/query.ts';
import { AutoscaleApi } from '../../sdk/autoscale.ts';
import type { CliEnv } from '../env.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerAlarmCommands(program: Command, env: CliEnv): void {
  const api = async () => new AutoscaleApi(await env.client());
  const a = program.command('alarm').description('threshold alarms over metrics (OK / ALARM / INSUFFICIENT_DATA)');
  a.command('create <name>').requiredOption('--metric <query>', 'metrics query, e.g. cpu_percent{app="shop"}')
    .option('--above <n>', 'fire above this value', Number).option('--below <n>', 'fire below this value', Number)
    .option('--for <duration>', 'the breach must hold this long (e.g. 1m)', '0s').option('--notify <target>', 'webhook:http://… (repeatable)', collect)
    .option('--description <text>')
    .action(async (name: string, o: { metric: string; above?: number; below?: number; for: string; notify?: string[]; description?: string }) => {
      const ms = parseDuration(o.for);
      if (ms === undefined && o.for !== '0') throw new Error(`--for: '${o.for}' is not a duration`);
      const r = await (await api()).alarms.create(name, {
        metric: o.metric, ...(o.above !== undefined ? { above: o.above } : {}), ...(o.below !== undefined ? { below: o.below } : {}),
        forSeconds: Math.round((ms ?? 0) / 1000), ...(o.notify ? { notify: o.notify } : {}), ...(o.description ? { description: o.description } : {}),
      });
      env.out({ name: r.name, state: r.status.state, metric: r.spec.metric });
    });
  a.command('list').action(async () => env.out((await (await api()).alarms.listAll()).map((r) => ({
    name: r.name, state: r.status.state, value: r.status.value, metric: r.spec.metric, threshold: r.spec.above !== undefined ? `> ${r.spec.above}` : `< ${r.spec.below}`, for: `${r.spec.forSeconds ?? 0}s`, since: r.status.stateSince,
  })), ['name', 'state', 'value', 'metric', 'threshold', 'for', 'since']));
  a.command('show <name>').action(async (name: string) => {
    const r = await (await api()).alarms.get(name);
    if (env.format() !== 'table') return env.out(r);
    env.out({ name: r.name, state: r.status.state, value: r.status.value, metric: r.spec.metric, above: r.spec.above, below: r.spec.below, forSeconds: r.spec.forSeconds ?? 0, notify: r.spec.notify, lastNotification: r.status.lastNotification });
    process.stdout.write('\nhistory:\n');
    env.out((r.status.history ?? []).map((h) => ({ ...h })), ['at', 'from', 'to', 'value', 'reason']);
  });
  a.command('delete <name>').action(async (name: string) => { await (await api()).alarms.delete(name); env.out({ deleted: name }); });
}
