/**
 * Metering through the API, in one cloud with the real compute service
 * (process driver, real processes): instance history written through the
 * resource store and a real instance started and stopped through the
 * compute API are metered to the second and invoiced; the cost explorer,
 * CSV export, prices and estimates answer over HTTP.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { monthStart } from '../../src/metering/aggregate.ts';
import { type MeteringModule, meteringModule } from '../../src/metering/module.ts';
import { History } from '../../src/metering/testing.ts';
import { insertRecords } from '../../src/metering/records.ts';
import { compute } from '../../src/sdk/compute.ts';
import { metering } from '../../src/sdk/metering.ts';
import type { YunApiError } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { buildImage } from '../compute/helpers.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('metering API', () => {
  let tc: TestCloud;
  let mm: MeteringModule;
  let projectId = '';
  const now = Date.now();
  const cur = monthStart(now);
  const prev = monthStart(cur - 1);
  const prevMonth = iso(prev).slice(0, 7);

  before(async () => {
    const home = await mkdtemp(join(tmpdir(), 'yun-metering-'));
    const config = resolveConfig({ home }, {});
    mm = await meteringModule(config, { tickMs: 0 });
    const cm = computeModule(config, { driver: 'process', stopTimeoutMs: 2000, pollMs: 100 });
    tc = await startTestCloud({ home, modules: [cm, mm] });
    projectId = (await tc.cloud.ctx.identity.requireProject('default')).id;
  });
  after(async () => {
    for (const i of await compute(tc.admin).instances()) await compute(tc.admin).instance(i.name).delete().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    await tc.stop();
  });

  it('meters store-written instance history to the second and invoices it', async () => {
    const h = new History(tc.cloud.ctx.store);
    // web: m1.small-sized container, 10 h 20 min 30 s running, then stopped with a 20 GB disk for 2 h
    const web = await h.instance(projectId, 'web', iso(prev + 2 * 24 * H), { vcpus: 1, ramMb: 2048, diskGb: 20 }, { team: 'shop' });
    await h.state(web, 'running', iso(prev + 2 * 24 * H + 5_000));
    await h.state(web, 'stopped', iso(prev + 2 * 24 * H + 5_000 + 37_230_000));
    await h.remove(web, iso(prev + 2 * 24 * H + 5_000 + 37_230_000 + 2 * H));
    // vm: 2 vCPU VM started 2 h before the month ended and still running: crosses the month boundary
    const vm = await h.instance(projectId, 'vm', iso(cur - 2 * H), { vcpus: 2, ramMb: 4096, diskGb: 40 }, { team: 'data' });
    await h.state(vm, 'running', iso(cur - 2 * H), { driver: 'qemu' });
    await metering(tc.admin).collect();

    const inv = await metering(tc.admin).invoice(prevMonth);
    assert.equal(inv.state, 'closed', 'last month closes on the first pass after its end');
    const line = (sku: string, name: string) => inv.lines.find((l) => l.sku === sku && l.resourceName === name);
    assert.equal(line('compute.vcpu:container', 'web')!.quantity, '10.341667'); // 10.341666… vCPU-hours
    assert.equal(line('compute.vcpu:container', 'web')!.amount, '0.21'); // 10.3417 h × 0.02
    assert.equal(line('compute.memory:container', 'web')!.amount, '0.05'); // 2 GiB × 10.3417 h × 0.0025
    assert.equal(line('compute.stopped_disk', 'web')!.quantity, (40 / 730).toFixed(6)); // 20 GB × 2 h in GB-months
    assert.equal(line('compute.vcpu:vm', 'vm')!.quantity, '4'); // 2 vCPU × 2 h of last month only
    assert.equal(line('compute.vcpu:vm', 'vm')!.amount, '0.10'); // 4 × 0.024 = 0.096
    const cents = inv.lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0);
    assert.equal(cents, Math.round(Number(inv.total) * 100), 'total = sum of lines, to the cent');
    assert.equal(inv.subtotals.find((s) => s.service === 'compute')!.amount, inv.total);

    const csv = await metering(tc.admin).invoiceCsv(prevMonth);
    assert.match(csv, /^month,project,service,sku,/);
    assert.match(csv, new RegExp(`${prevMonth},${projectId},TOTAL,,,,,,,${inv.total.replace('.', '\\.')},USD`));

    // closed invoices are immutable: more usage recorded for that month later does not change them
    await tc.cloud.ctx.store.tx((q) => insertRecords(q, [{
      project: projectId, sku: 'compute.vcpu:container', resourceId: 'i-late', resourceKind: 'instance', resourceName: 'late', labels: {},
      quantity: 360_000_000n, start: prev + H, end: prev + 2 * H, source: 'test',
    }]));
    assert.equal((await metering(tc.admin).invoice(prevMonth)).total, inv.total);

    const list = await metering(tc.admin).invoices();
    assert.ok(list.items.some((i) => i.month === prevMonth && i.state === 'closed'));

    // cost explorer over last month: by label, by resource, by day
    const since = iso(prev);
    const until = iso(cur);
    const byLabel = await metering(tc.admin).usage({ since, until, groupBy: 'label:team' });
    assert.deepEqual(byLabel.groups.map((g) => g.key).sort(), ['(none)', 'data', 'shop']);
    const byRes = await metering(tc.admin).usage({ since, until, groupBy: 'resource' });
    assert.equal(byRes.groups.find((g) => g.key === 'instance/web')!.quantities['compute.vcpu:container'], String(37_230_000));
    const byDay = await metering(tc.admin).usage({ since, until, groupBy: 'day' });
    assert.ok(byDay.groups.some((g) => g.key === iso(prev + 2 * 24 * H).slice(0, 10)));
    const bySvc = await metering(tc.admin).usage({ since: iso(cur), groupBy: 'service' });
    assert.ok(bySvc.forecast, 'the current month has a forecast');
    assert.ok(BigInt(bySvc.groups.find((g) => g.key === 'compute')!.costMicro) > 0n, 'the VM still runs this month');
    await assert.rejects(metering(tc.admin).usage({ groupBy: 'colour' }), (e: YunApiError) => e.status === 400);
  });

  it('meters a real instance started and stopped through the compute API', async () => {
    await buildImage(tc.admin, 'busybox', 'busybox');
    const inst = await compute(tc.admin).flavor('m1.tiny').launch({ name: 'real', image: 'busybox', command: ['/bin/sh', '-c', 'sleep 600'] });
    await inst.waitFor('running', 30_000);
    await new Promise((r) => setTimeout(r, 2500));
    await inst.stop();
    await inst.waitFor('stopped', 30_000);
    await metering(tc.admin).collect();
    // the measured time is exactly the time between the running and stopped transitions in the event log
    const evs = await tc.cloud.ctx.store.all<{ object: string; at: string }>("SELECT object, at FROM events WHERE kind = 'instance' ORDER BY seq");
    let runAt = 0;
    let stopAt = 0;
    for (const e of evs) {
      const o = JSON.parse(e.object) as { name: string; status: { state?: string } };
      if (o.name !== 'real') continue;
      if (o.status.state === 'running' && !runAt) runAt = Date.parse(e.at);
      if (o.status.state !== 'running' && runAt && !stopAt) stopAt = Date.parse(e.at);
    }
    const ms = stopAt - runAt;
    assert.ok(ms >= 2500 && ms < 20_000, `ran ${ms} ms`);
    const u = await metering(tc.admin).usage({ since: iso(cur), groupBy: 'resource' });
    const g = u.groups.find((x) => x.key === 'instance/real')!;
    assert.equal(g.quantities['compute.vcpu:container'], String(ms), 'm1.tiny: 1 vCPU → milli-vCPU-seconds = ms');
    assert.equal(g.quantities['compute.memory:container'], String(Math.round((512 * ms) / 1000)));
  });

  it('prices and estimates', async () => {
    const m = metering(tc.admin);
    const p = await m.prices();
    assert.equal(p.currency, 'USD');
    assert.equal(p.items.find((i) => i.sku === 'storage.object')!.price, '0.05');
    assert.equal((await m.estimate({ type: 'storage', gb: 100, months: 3 })).total, '15.00');
    const inst = await m.estimate({ type: 'instance', flavor: 'm1.small', hours: 720 });
    assert.equal(inst.total, '18.00'); // 720 × (1 × 0.02 + 2 × 0.0025)
    assert.equal((await m.estimate({ type: 'instance', flavor: 'm1.small', hours: 720, runtime: 'vm' })).total, '21.60');
    const app = await m.estimate({ type: 'app', name: 'shop', flavor: 'm1.small', minReplicas: 2, maxReplicas: 5, hours: 720 });
    assert.deepEqual(app.range, { min: '36.00', max: '90.00', minReplicas: 2, maxReplicas: 5 });
    assert.equal((await m.estimate({ type: 'app', flavor: 'm1.small', replicas: 5, hours: 720 })).total, '90.00');
    const bad = async (req: Parameters<typeof m.estimate>[0], re: RegExp) => assert.rejects(m.estimate(req), (e: YunApiError) => e.status === 400 && re.test(e.message));
    await bad({ type: 'instance', flavor: 'm9.huge', hours: 1 }, /unknown flavor 'm9.huge'/);
    await bad({ type: 'storage', gb: -5, months: 1 }, /gb must be/);
    await bad({ type: 'storage', gb: 1e12, months: 1 }, /gb must be/);
    await bad({ type: 'teleport' } as never, /unknown estimate type 'teleport'/);
    await assert.rejects(m.estimate({ type: 'app', name: 'nope', replicas: 2 }), (e: YunApiError) => e.status === 404 && /app 'nope'/.test(e.message));
  });

  it('a hard budget that is exceeded blocks creating billable resources, not reads', async () => {
    const m = metering(tc.admin);
    await m.createBudget('hard', { amount: '0.000001', enforce: 'hard', alerts: [{ percent: 100 }] });
    await m.collect();
    assert.equal((await m.budgets.get('hard')).status.state, 'exceeded');
    await assert.rejects(compute(tc.admin).flavor('m1.tiny').launch({ name: 'blocked', image: 'busybox' }),
      (e: YunApiError) => e.status === 403 && e.code === 'QuotaExceeded' && /budget 'hard' is exceeded/.test(e.message));
    assert.ok((await compute(tc.admin).instances()).length >= 1, 'reads still work');
    await m.budgets.delete('hard');
    const ok = await compute(tc.admin).flavor('m1.tiny').launch({ name: 'allowed', image: 'busybox', command: ['/bin/sh', '-c', 'sleep 600'] });
    await ok.waitFor('running', 30_000);
    await ok.delete();
  });

  it('refuses bad budgets and bad months', async () => {
    const m = metering(tc.admin);
    await assert.rejects(m.createBudget('b1', { amount: '-3' }), (e: YunApiError) => e.status === 400);
    await assert.rejects(m.createBudget('b2', { amount: '10', notify: ['email:x@y'] }), (e: YunApiError) => e.status === 400 && /notification target/.test(e.message));
    await assert.rejects(m.invoice('2026-13'), (e: YunApiError) => e.status === 400);
    await assert.rejects(m.invoice('2999-01'), (e: YunApiError) => e.status === 404);
  });
});
