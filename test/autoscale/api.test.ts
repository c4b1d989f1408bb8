/**
 * Autoscaling through the API with the fake compute driver: policy
 * validation, instance groups (size kept, a deleted member replaced),
 * group scaling on a custom metric up and back down after the window,
 * scheduled capacity with a fake clock, HPA policies from the apps
 * service honoured, rightsizing of an idle group.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AutoscaleController } from '../../src/autoscale/controller.ts';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { type ElasticCloud, buildImage, startElasticCloud, waitFor } from './helpers.ts';

type R = { name: string; spec: Record<string, unknown>; status: Record<string, unknown>; deletionTimestamp?: string; labels: Record<string, string> };

describe('autoscale API', () => {
  let ec: ElasticCloud;
  const fake = new FakeHost();
  before(async () => {
    ec = await startElasticCloud({ compute: { driver: new FakeDriver({ host: fake }) }, monitor: { intervalMs: 200 } });
    await buildImage(ec.c, 'busybox', 'busybox');
  });
  after(async () => { await ec.stop(); fake.shutdown(); });

  const groups = () => ec.c.resource('instance-groups');
  const policies = () => ec.c.resource('autoscalers');
  const members = async (g: string) => (await ec.c.resource('instances').list({ labelSelector: `yun-group=${g}` })).items.filter((i) => !(i as unknown as R).deletionTimestamp) as unknown as R[];
  const size = async (g: string) => ((await groups().get(g)) as unknown as R).spec.size as number;

  it('refuses bad policies: min > max, bad cron, custom without query, bad target', async () => {
    const base = { target: 'group/workers', minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'cpu', target: 50 }] };
    await assert.rejects(policies().create('p', { ...base, minReplicas: 6 }), /must not exceed/);
    await assert.rejects(policies().create('p', { ...base, schedules: [{ cron: '0 25 * * *', minReplicas: 2 }] }), /cron hour/);
    await assert.rejects(policies().create('p', { ...base, metrics: [{ type: 'custom', target: 3 }] }), /needs a query/);
    await assert.rejects(policies().create('p', { ...base, metrics: [{ type: 'custom', target: 3, query: 'x{' }] }), /position/);
    await assert.rejects(policies().create('p', { ...base, target: 'vm/x' }), (e: { status: number }) => e.status === 400);
  });

  it('an instance group keeps its size and replaces a deleted member', async () => {
    await groups().create('workers', { image: 'busybox', flavor: 'm1.small', command: ['sleep', '3600'], size: 3 });
    assert.ok(await waitFor(async () => (await members('workers')).filter((m) => m.status.state === 'running').length === 3), 'three running members');
    const victim = (await members('workers'))[0]!;
    await ec.c.resource('instances').delete(victim.name);
    assert.ok(await waitFor(async () => {
      const ms = await members('workers');
      return ms.length === 3 && !ms.some((m) => m.name === victim.name) && ms.every((m) => m.status.state === 'running');
    }), 'replaced');
    assert.ok(await waitFor(async () => ((await groups().get('workers')) as unknown as R).status.state === 'Ready'));
  });

  it('rightsizing suggests a smaller flavor for an idle group', async () => {
    assert.ok(await waitFor(async () => {
      const r = await ec.c.request<{ change: string }>('GET', '/v1/recommendations', { query: { target: 'group/workers', window: '1m' } });
      return r.change !== 'insufficient-data';
    }));
    const r = await ec.c.request<{ change: string; suggested: { flavor: string }; current: { flavor: string } }>('GET', '/v1/recommendations', { query: { target: 'group/workers', window: '1m' } });
    assert.equal(r.current.flavor, 'm1.small');
    assert.equal(r.change, 'downsize');
    assert.equal(r.suggested.flavor, 'm1.tiny');
  });

  it('scales a group on a custom metric, up after the breach holds, down only after the window', async () => {
    await groups().update('workers', { spec: { ...((await groups().get('workers')) as unknown as R).spec, size: 1 } });
    await policies().create('workers', {
      target: 'group/workers', minReplicas: 1, maxReplicas: 6, metrics: [{ type: 'custom', target: 5, query: 'avg(jobs_waiting{queue="w"})' }],
      behavior: { scaleUpStabilizationSeconds: 1, scaleDownStabilizationSeconds: 4 },
    });
    const push = (v: number) => ec.c.request('POST', '/v1/metrics/push', { body: { samples: [{ metric: 'jobs_waiting', labels: { queue: 'w' }, value: v }] } });
    let pushing = true;
    let value = 20;
    const pusher = (async () => { while (pushing) { await push(value); await new Promise((r) => setTimeout(r, 200)); } })();
    try {
      assert.ok(await waitFor(async () => (await size('workers')) === 6, 20_000), 'scaled out to max');
      const p = (await policies().get('workers')) as unknown as R;
      const evs = p.status.events as { from: number; to: number; metrics: { value: number }[] }[];
      assert.ok(evs.length >= 1 && evs[0]!.from === 1 && evs[0]!.metrics[0]!.value === 20, JSON.stringify(evs));
      value = 1;
      const lowAt = Date.now();
      assert.ok(await waitFor(async () => (await size('workers')) < 6, 20_000));
      assert.ok(Date.now() - lowAt >= 3500, `no scale-in before the 4 s window (${Date.now() - lowAt} ms)`);
      assert.ok(await waitFor(async () => (await size('workers')) === 1, 30_000), 'back to min');
    } finally {
      pushing = false;
      await pusher;
    }
    await policies().delete('workers');
  });

  it('scheduled capacity raises min while the cron window is active (fake clock)', async () => {
    await policies().create('nightly', { target: 'group/workers', minReplicas: 1, maxReplicas: 5, metrics: [], schedules: [{ cron: '0 8 * * 1-5', minReplicas: 3, durationMinutes: 60 }], timeZone: 'Europe/Berlin' });
    let now = Date.parse('2026-11-30T06:30:00Z'); // Monday 07:30 in Berlin: not yet
    const ctx = ec.tc.cloud.ctx;
    const ctl = new AutoscaleController({ store: ctx.store, bus: ctx.bus, log: ctx.log, db: ec.monitor.db, now: () => now, evalMs: 1000 });
    await ctl.tick();
    assert.equal(await size('workers'), 1);
    now = Date.parse('2026-11-30T07:05:00Z'); // 08:05 in Berlin
    await ctl.tick();
    assert.equal(await size('workers'), 3);
    const p = (await policies().get('nightly')) as unknown as R;
    assert.equal(p.status.activeSchedule, '0 8 * * 1-5');
    assert.ok(await waitFor(async () => (await members('workers')).length === 3));
    await policies().delete('nightly');
  });

  it('honours the apps service\'s HPA policy (app-autoscaler) and the decisions endpoint shows its numbers', async () => {
    await ec.c.resource('apps').create('web', { image: 'busybox', port: 8080, replicas: 1, command: ['httpd', '-f', '-p', '8080'] });
    await ec.c.resource('app-autoscalers').create('web', { target: { kind: 'app', name: 'web' }, minReplicas: 2, maxReplicas: 4, metrics: [{ type: 'cpu', target: 60 }] });
    assert.ok(await waitFor(async () => (((await ec.c.resource('apps').get('web')) as unknown as R).spec.replicas as number) === 2), 'raised to minReplicas');
    const d = await ec.c.request<{ items: { target: string; kind: string }[] }>('GET', '/v1/autoscale/decisions');
    assert.ok(d.items.some((x) => x.target === 'app/web' && x.kind === 'app-autoscaler'));
    await ec.c.resource('app-autoscalers').delete('web');
    await ec.c.resource('apps').delete('web');
  });
});
