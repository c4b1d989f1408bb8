/**
 * Monitoring through the API (fake compute driver, real HTTP): custom
 * metrics, range queries, syntax errors with positions, the Prometheus
 * exposition read by a strict parser, alarms firing and clearing with a
 * real webhook receiver (retried), INSUFFICIENT_DATA for a missing metric,
 * project isolation of series.
 */
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { YunClient } from '../../src/sdk/client.ts';
import { parseExposition } from './exposition.ts';
import { type ElasticCloud, startElasticCloud, waitFor } from '../autoscale/helpers.ts';

type Alarm = { status: { state: string; history: { from: string; to: string }[]; lastNotification?: { ok: boolean; attempts: number } } };

describe('monitor API', () => {
  let ec: ElasticCloud;
  const fake = new FakeHost();
  let hook: Server;
  let hookUrl = '';
  const received: Record<string, unknown>[] = [];
  let failNext = 1;
  before(async () => {
    ec = await startElasticCloud({ compute: { driver: new FakeDriver({ host: fake }) }, monitor: { intervalMs: 200, notifier: undefined } });
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (failNext > 0) { failNext--; res.writeHead(500).end(); return; }
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  });
  after(async () => {
    await ec.stop();
    fake.shutdown();
    await new Promise((r) => hook.close(() => r(undefined)));
  });

  const push = (metric: string, value: number, labels: Record<string, string> = {}) =>
    ec.c.request('POST', '/v1/metrics/push', { body: { samples: [{ metric, labels, value }] } });

  it('custom metrics: push, query with matchers and aggregation, names', async () => {
    await push('queue_depth', 4, { queue: 'a' });
    await push('queue_depth', 6, { queue: 'b' });
    const r = await ec.c.request<{ result: { labels: Record<string, string>; values: [number, number][] }[] }>('GET', '/v1/metrics/query', { query: { q: 'queue_depth{queue="a"}', since: '1m', step: '1s' } });
    assert.equal(r.result.length, 1);
    assert.equal(r.result[0]!.values.at(-1)![1], 4);
    const s = await ec.c.request<{ result: { values: [number, number][] }[] }>('GET', '/v1/metrics/query', { query: { q: 'sum(queue_depth)', since: '10s' } });
    assert.equal(s.result[0]!.values.at(-1)![1], 10);
    const names = await ec.c.request<{ items: string[] }>('GET', '/v1/metrics/names');
    assert.ok(names.items.includes('queue_depth'));
  });

  it('a query with bad syntax is a 400 pointing at the position', async () => {
    await assert.rejects(ec.c.request('GET', '/v1/metrics/query', { query: { q: 'rate(cpu_usage{app="x"})' } }), (e: { status: number; message: string }) => {
      assert.equal(e.status, 400);
      assert.match(e.message, /position 6/);
      return true;
    });
    await assert.rejects(ec.c.request('GET', '/v1/metrics/query', { query: { q: 'x', step: 'soon' } }), /not a duration/);
  });

  it('Prometheus exposition parses and carries the pushed series and the collector\'s', async () => {
    assert.ok(await waitFor(() => ec.monitor.collector!.rounds > 1));
    const res = await fetch(`${ec.tc.cloud.apiUrl}/v1/metrics/prometheus?allProjects=true`, { headers: { authorization: `Bearer ${ec.c.token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await res.text());
    assert.ok(samples.some((s) => s.name === 'queue_depth' && s.labels.queue === 'a' && s.value === 4));
    assert.ok(samples.some((s) => s.name === 'host_instances_running'), 'host series for admins');
  });

  it('series are private to their project', async () => {
    await ec.c.request('POST', '/v1/projects', { body: { name: 'other' } });
    const other = new YunClient({ endpoint: ec.tc.cloud.apiUrl, project: 'other' });
    other.token = ec.c.token;
    const r = await other.request<{ result: unknown[] }>('GET', '/v1/metrics/query', { query: { q: 'queue_depth' } });
    assert.equal(r.result.length, 0);
    const mine = await ec.c.request<{ result: unknown[] }>('GET', '/v1/metrics/query', { query: { q: 'queue_depth' } });
    assert.equal(mine.result.length, 2);
  });

  it('alarms: INSUFFICIENT_DATA without data, ALARM after the duration, OK again; webhook retried', async () => {
    const alarms = ec.c.resource('alarms');
    await assert.rejects(alarms.create('bad', { metric: 'x{', above: 1 }), /position/);
    await assert.rejects(alarms.create('bad', { metric: 'x', above: 1, below: 2 }), /exactly one/);
    await assert.rejects(alarms.create('bad', { metric: 'x', above: 1, notify: ['mailto:a@b'] }), /notification target/);
    await alarms.create('ghost', { metric: 'no_such_metric', above: 1 });
    await alarms.create('deep', { metric: 'max(latency_ms{svc="api"})', above: 100, forSeconds: 1, notify: [`webhook:${hookUrl}`] });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(((await alarms.get('ghost')) as unknown as Alarm).status.state, 'INSUFFICIENT_DATA');
    const pushFor = async (v: number, ms: number) => { const end = Date.now() + ms; while (Date.now() < end) { await push('latency_ms', v, { svc: 'api' }); await new Promise((r) => setTimeout(r, 100)); } };
    await pushFor(50, 600);
    assert.ok(await waitFor(async () => ((await alarms.get('deep')) as unknown as Alarm).status.state === 'OK', 3000));
    const t0 = Date.now();
    let sawOkWhileBreaching = false;
    const breach = pushFor(500, 2500);
    while (Date.now() - t0 < 800) {
      if (((await alarms.get('deep')) as unknown as Alarm).status.state === 'OK') sawOkWhileBreaching = true;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(sawOkWhileBreaching, 'stays OK until the breach held for 1 s');
    await breach;
    assert.equal(((await alarms.get('deep')) as unknown as Alarm).status.state, 'ALARM');
    assert.ok(await waitFor(() => received.some((b) => b.state === 'ALARM'), 8000), 'webhook got the ALARM after a retry');
    const fired = received.find((b) => b.state === 'ALARM')!;
    assert.equal(fired.alarm, 'deep');
    assert.equal(fired.previousState, 'OK');
    assert.ok(Number(fired.value) >= 500);
    await pushFor(10, 800);
    assert.ok(await waitFor(async () => ((await alarms.get('deep')) as unknown as Alarm).status.state === 'OK', 3000));
    const a = (await alarms.get('deep')) as unknown as Alarm;
    assert.deepEqual(a.status.history.map((h) => `${h.from}>${h.to}`), ['INSUFFICIENT_DATA>OK', 'OK>ALARM', 'ALARM>OK']);
    assert.ok(await waitFor(() => received.some((b) => b.state === 'OK'), 8000));
    await ec.monitor.alarms!.idle();
    const n = ((await alarms.get('deep')) as unknown as Alarm).status.lastNotification!;
    assert.equal(n.ok, true);
  });
});
