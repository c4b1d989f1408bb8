/**
 * The elasticity commands through the real `yun` binary against a cloud
 * with the fake compute driver: metrics, alarm, group, autoscale (set,
 * schedule, show, events, list, delete), recommend and loadtest.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { yunCli } from '../helpers/cli.ts';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { buildImage, startElasticCloud, waitFor } from './helpers.ts';

test('yun metrics, alarm, group, autoscale, recommend, loadtest', { timeout: 180_000 }, async () => {
  const fake = new FakeHost();
  const ec = await startElasticCloud({ compute: { driver: new FakeDriver({ host: fake }) }, monitor: { intervalMs: 200 } });
  const { yun, json } = yunCli({ endpoint: ec.tc.cloud.apiUrl, token: ec.c.token!, home: ec.home, timeoutMs: 30_000 });
  try {
    await buildImage(ec.c, 'busybox', 'busybox');
    // metrics
    assert.deepEqual(await json('metrics', 'push', 'queue_depth', '7', '--label', 'queue=jobs'), { accepted: 1 });
    const q = await json('metrics', 'query', 'queue_depth{queue="jobs"}', '--since', '1m', '--step', '5s');
    assert.equal(q.result[0].values.at(-1)[1], 7);
    const table = await yun('metrics', 'query', 'queue_depth');
    assert.match(table.stdout, /queue_depth\{.*queue="jobs".*\}\s+\d+\s+7/);
    const bad = await yun('metrics', 'query', 'sum(queue_depth');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /position 16/);
    assert.match((await yun('metrics', 'prometheus')).stdout, /# TYPE queue_depth gauge/);

    // alarms
    const a = await json('alarm', 'create', 'deep-queue', '--metric', 'queue_depth{queue="jobs"}', '--above', '5', '--for', '0s', '--notify', 'webhook:http://127.0.0.1:9/hook');
    assert.equal(a.name, 'deep-queue');
    assert.ok(await waitFor(async () => (await json('alarm', 'list'))[0].state === 'ALARM', 10_000));
    assert.match((await yun('alarm', 'show', 'deep-queue')).stdout, /INSUFFICIENT_DATA\s+ALARM/);
    assert.equal((await yun('alarm', 'create', 'x', '--metric', 'q', '--above', '1', '--below', '0')).code, 1);

    // groups
    await json('group', 'create', 'workers', '--image', 'busybox', '--flavor', 'm1.small', '--size', '2', 'sleep', '3600');
    assert.ok(await waitFor(async () => (await json('group', 'list'))[0].running === 2, 20_000));
    await json('group', 'resize', 'workers', '--size', '3');
    assert.ok(await waitFor(async () => (await json('group', 'list'))[0].running === 3, 20_000));

    // autoscale
    const p = await json('autoscale', 'set', 'group/workers', '--min', '2', '--max', '20', '--target', 'cpu=50');
    assert.deepEqual([p.name, p.target, p.min, p.max, p.metrics], ['group-workers', 'group/workers', 2, 20, 'cpu=50']);
    const refused2 = await yun('autoscale', 'set', 'group/workers', '--min', '5', '--max', '3');
    assert.equal(refused2.code, 1);
    assert.match(refused2.stderr, /must not exceed/);
    await json('autoscale', 'set', 'group/workers', '--min', '2', '--max', '20');
    const sch = await json('autoscale', 'schedule', 'group/workers', '--cron', '0 8 * * 1-5', '--min', '3', '--duration', '10h', '--tz', 'Europe/Berlin');
    assert.match(sch.schedules, /0 8 \* \* 1-5→min 3/);
    assert.equal((await yun('autoscale', 'schedule', 'group/workers', '--cron', '0 8 * *', '--min', '3')).code, 1);
    const shown = await json('autoscale', 'show', 'group/workers');
    assert.equal(shown.spec.timeZone, 'Europe/Berlin');
    assert.equal((await json('autoscale', 'list')).length, 1);
    assert.ok(Array.isArray(await json('autoscale', 'events', 'group/workers')));
    assert.ok(await waitFor(async () => (await json('autoscale', 'decisions')).some((d: { target: string }) => d.target === 'group/workers')));
    await json('autoscale', 'delete', 'group/workers');

    // recommend
    assert.ok(await waitFor(async () => (await json('recommend', 'group/workers', '--window', '1m')).change === 'downsize', 15_000));
    assert.match((await yun('recommend', 'group/workers', '--window', '1m')).stdout, /suggested\s+m1\.tiny/);

    // loadtest: the app has no ready replica with the fake driver, so every request is held by the
    // router and ends as an error (503 or the generator's timeout): counted, never lost
    await ec.c.resource('apps').create('shop', { image: 'busybox', port: 8080, replicas: 1, command: ['httpd', '-f', '-p', '8080'] });
    assert.ok(await waitFor(async () => Boolean(((await ec.c.resource('apps').get('shop')).status as { url?: string }).url)));
    const lt = await json('loadtest', 'shop', '--rps', '50', '--duration', '1s', '--settle', '0s');
    assert.ok(lt.sent >= 48 && lt.sent <= 51, String(lt.sent));
    assert.equal(lt.errors, lt.sent, JSON.stringify(lt.statusCounts));
    assert.equal(Object.values(lt.statusCounts as Record<string, number>).reduce((a, b) => a + b, 0), lt.sent);
    const human = await yun('loadtest', 'shop', '--rps', '20', '--duration', '1s', '--settle', '0s');
    assert.match(human.stdout, /latency\s+p50 .* \(from intended send time\)/);
    assert.match(human.stdout, /scale events:/);
    await json('group', 'delete', 'workers');
  } finally {
    await ec.stop();
    fake.shutdown();
  }
});
