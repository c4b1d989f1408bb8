import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliEnv } from '../env.ts';
import { table } from '../output.ts';
import { type Estimate, type EstimateRequest, metering } from '../../sdk/metering.ts';

const num = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number (got '${v}')`);
  return n;
};

/** `80%`, `80`, `forecast:100%` → { percent, basis }. */
export function parseAlert(v: string, prev: { percent: number; basis: 'actual' | 'forecast' }[] = []) {
  const m = /^(?:(actual|forecast):)?(\d+(?:\.\d+)?)%?$/.exec(v.trim());
  if (!m) throw new Error(`--alert must look like 80% or forecast:100% (got '${v}')`);
  return [...prev, { percent: Number(m[2]), basis: (m[1] ?? 'actual') as 'actual' | 'forecast' }];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** price list, cost estimate, usage (cost explorer), invoice, budget. */
export function registerCostCommands(program: Command, env: CliEnv): void {
  const api = async () => metering(await env.client());
  const showEstimate = (e: Estimate) => {
    if (env.format() !== 'table') return env.out(e);
    process.stdout.write(`${table(e.items as unknown as Record<string, unknown>[], ['sku', 'quantity', 'unit', 'amount'])}\n`);
    if (e.range) process.stdout.write(`range: ${e.range.min} – ${e.range.max} ${e.currency} (${e.range.minReplicas}–${e.range.maxReplicas} replicas)\n`);
    for (const n of e.notes ?? []) process.stdout.write(`note: ${n}\n`);
    process.stdout.write(`total: ${e.total} ${e.currency}\n`);
  };
  const est = async (req: EstimateRequest) => showEstimate(await (await api()).estimate(req));

  program.command('price').description('the price catalogue').command('list').action(async () => {
    const p = await (await api()).prices();
    if (env.format() !== 'table') return env.out(p);
    const rows = p.items.map((i) => ({ ...i, price: i.price ?? i.tiers?.map((t) => `${t.price}${t.upTo !== undefined ? ` to ${t.upTo}` : '+'}`).join(', ') }));
    process.stdout.write(`${table(rows, ['sku', 'price', 'unit', 'from', 'service'])}\ncurrency: ${p.currency}  region: ${p.region}  source: ${p.source}\n`);
  });

  const cost = program.command('cost').description('cost estimates before anything is created');
  const estimate = cost.command('estimate').description('estimate storage, volume, instance, app or data-out cost');
  estimate.command('storage').description('object storage').requiredOption('--gb <n>', 'GB stored', num('gb')).option('--months <n>', 'months (730 h each)', num('months'), 1)
    .action((o: { gb: number; months: number }) => est({ type: 'storage', gb: o.gb, months: o.months }));
  estimate.command('volume').requiredOption('--gb <n>', 'volume size', num('gb')).option('--months <n>', 'months', num('months'), 1).option('--type <type>', 'file|qcow2')
    .action((o: { gb: number; months: number; type?: string }) => est({ type: 'volume', gb: o.gb, months: o.months, volumeType: o.type }));
  estimate.command('instance').option('--flavor <name>').option('--cpus <n>', 'vCPUs', num('cpus')).option('--memory-mb <n>', 'memory', num('memory-mb'))
    .option('--hours <n>', 'hours', num('hours'), 730).option('--count <n>', 'instances', num('count'), 1).option('--vm', 'priced as a VM (default container)')
    .action((o: { flavor?: string; cpus?: number; memoryMb?: number; hours: number; count: number; vm?: boolean }) =>
      est({ type: 'instance', flavor: o.flavor, vcpus: o.cpus, memoryMb: o.memoryMb, hours: o.hours, count: o.count, runtime: o.vm ? 'vm' : 'container' }));
  estimate.command('app [name]').description('an app at N replicas, or a --min/--max autoscaling range')
    .option('--replicas <n>', 'replicas', num('replicas')).option('--min <n>', 'min replicas', num('min')).option('--max <n>', 'max replicas', num('max'))
    .option('--flavor <name>', 'replica size (default: the app\'s)').option('--hours <n>', 'hours', num('hours'), 730)
    .action((name: string | undefined, o: { replicas?: number; min?: number; max?: number; flavor?: string; hours: number }) =>
      est({ type: 'app', name, replicas: o.replicas, minReplicas: o.min, maxReplicas: o.max, flavor: o.flavor, hours: o.hours }));
  estimate.command('data-out').requiredOption('--gb <n>', 'GB sent out', num('gb')).action((o: { gb: number }) => est({ type: 'data-out', gb: o.gb }));

  program.command('usage').description('cost explorer: usage and cost grouped by service, sku, resource, label:<key>, day or project')
    .option('--since <date>', 'start (default: this month)').option('--until <date>', 'end (default: now)')
    .option('--group-by <g>', 'service|sku|resource|label:<key>|day|project', 'service').option('--all-projects', 'every project (cloud admins)')
    .action(async (o: { since?: string; until?: string; groupBy: string; allProjects?: boolean }) => {
      const r = await (await api()).usage({ since: o.since, until: o.until, groupBy: o.groupBy, allProjects: o.allProjects });
      if (env.format() !== 'table') return env.out(r);
      process.stdout.write(`${table(r.groups as unknown as Record<string, unknown>[], ['key', 'cost'])}\ntotal: ${r.total} ${r.currency}  (${r.since} → ${r.until})\n`);
      if (r.forecast) process.stdout.write(`${r.forecast.month}: ${r.forecast.actual} so far, forecast ${r.forecast.forecast} ${r.currency}\n`);
    });

  const invoice = program.command('invoice').description('monthly invoices');
  invoice.command('list').action(async () => env.out((await (await api()).invoices()).items, ['month', 'state', 'total', 'currency', 'lines']));
  invoice.command('show <month>').description('e.g. 2026-11').action(async (month: string) => {
    const inv = await (await api()).invoice(month);
    if (env.format() !== 'table') return env.out(inv);
    process.stdout.write(`invoice ${inv.month}  project ${inv.projectName}  ${inv.state}\n`);
    process.stdout.write(`${table(inv.lines as unknown as Record<string, unknown>[], ['service', 'sku', 'resourceName', 'quantity', 'unit', 'amount'])}\n`);
    for (const s of inv.subtotals) process.stdout.write(`subtotal ${s.service}: ${s.amount}\n`);
    process.stdout.write(`total: ${inv.total} ${inv.currency}\n`);
  });
  invoice.command('export <month>').option('--format <f>', 'csv|json', 'csv').option('--file <path>', 'write here instead of stdout')
    .action(async (month: string, o: { format: string; file?: string }) => {
      if (!['csv', 'json'].includes(o.format)) throw new Error(`--format must be csv or json (got '${o.format}')`);
      const m = await api();
      const text = o.format === 'csv' ? await m.invoiceCsv(month) : `${JSON.stringify(await m.invoice(month), null, 2)}\n`;
      if (o.file) await writeFile(o.file, text);
      else process.stdout.write(text);
    });

  const budget = program.command('budget').description('monthly budgets with alerts');
  budget.command('create <name>').requiredOption('--amount <n>', 'amount per month, e.g. 50')
    .option('--alert <pct>', 'threshold: 80% or forecast:100% (repeatable)', parseAlert, [] as { percent: number; basis: 'actual' | 'forecast' }[])
    .option('--notify <target>', 'webhook:http://… (repeatable)', collect, [] as string[]).option('--hard', 'refuse new billable resources once exceeded')
    .action(async (name: string, o: { amount: string; alert: { percent: number; basis: 'actual' | 'forecast' }[]; notify: string[]; hard?: boolean }) => {
      env.out(await (await api()).createBudget(name, {
        amount: o.amount, ...(o.alert.length ? { alerts: o.alert } : {}), ...(o.notify.length ? { notify: o.notify } : {}), ...(o.hard ? { enforce: 'hard' as const } : {}),
      }));
    });
  budget.command('list').action(async () => env.out((await (await api()).budgets.listAll()).map((b) => ({ name: b.name, amount: b.spec.amount, ...b.status })),
    ['name', 'amount', 'state', 'actual', 'forecast', 'percentActual', 'period']));
  budget.command('show <name>').action(async (name: string) => env.out(await (await api()).budgets.get(name)));
  budget.command('delete <name>').action(async (name: string) => { await (await api()).budgets.delete(name); env.out({ deleted: name }); });

  program.command('metering').description('metering administration').command('collect').description('run a metering pass now (cloud admins)')
    .action(async () => env.out(await (await api()).collect()));
}
