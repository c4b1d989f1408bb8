/**
 * Budget alerts against a real local HTTP server: thresholds on actual and
 * forecast spend fire once each per month, a failing webhook is retried
 * until delivered, the status is visible through the API and the event
 * log, and a hard budget reports the project as blocked.
 */
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../../src/core/config.ts';
import { budgetBlocks } from '../../src/metering/budgets.ts';
import { type MeteringModule, meteringModule } from '../../src/metering/module.ts';
import { History, TestClock } from '../../src/metering/testing.ts';
import { metering } from '../../src/sdk/metering.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

describe('budgets', () => {
  let tc: TestCloud;
  let mm: MeteringModule;
  let server: Server;
  let url = '';
  const received: Record<string, unknown>[] = [];
  let failNext = 1;
  const clock = new TestClock(Date.parse('2026-11-20T12:00:00Z'));

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (failNext > 0) { failNext--; res.writeHead(500).end('try later'); return; }
        received.push({ ...JSON.parse(body), contentType: req.headers['content-type'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const home = await mkdtemp(join(tmpdir(), 'yun-budget-'));
    mm = await meteringModule(resolveConfig({ home }, {}), { tickMs: 0, now: clock.now, webhookBackoffMs: 20 });
    tc = await startTestCloud({ home, modules: [mm] });
  });
  after(async () => {
    await tc.stop();
    await new Promise((r) => server.close(r));
  });

  it('fires each threshold once, retries a failing webhook, shows status', async () => {
    const project = (await tc.cloud.ctx.identity.requireProject('default')).id;
    const m = metering(tc.admin);
    await m.createBudget('monthly', {
      amount: '25', alerts: [{ percent: 80 }, { percent: 100 }, { percent: 100, basis: 'forecast' }], notify: [`webhook:${url}`], enforce: 'hard',
    });
    const h = new History(tc.cloud.ctx.store);
    // 4 vCPU / 8 GiB container for 216 h = 216 × (0.08 + 0.02) = 21.60 → 86.4 % of 25; forecast 21.60 × 30 / 19.5 = 33.23
    const big = await h.instance(project, 'big', '2026-11-01T00:00:00Z', { vcpus: 4, ramMb: 8192, diskGb: 0 });
    await h.state(big, 'running', '2026-11-01T00:00:00Z');
    await h.state(big, 'stopped', '2026-11-10T00:00:00Z');
    await m.collect();
    assert.deepEqual(received.map((r) => `${r.threshold}/${r.basis}`).sort(), ['100/forecast', '80/actual']);
    assert.equal(failNext, 0, 'the first delivery failed and was retried');
    const first = received.find((r) => r.threshold === 80)!;
    assert.equal(first.actual, '21.60');
    assert.equal(first.amount, '25.00');
    assert.equal(first.period, '2026-11');
    assert.equal(first.contentType, 'application/json');
    let b = await m.budgets.get('monthly');
    assert.equal(b.status.state, 'alerting');
    assert.equal(b.status.actual, '21.60');
    assert.equal(b.status.forecast, '33.23');
    assert.equal(b.status.fired?.length, 2);
    assert.ok(b.status.fired!.every((f) => f.delivered));
    assert.equal(await budgetBlocks(tc.cloud.ctx.store, project), undefined);

    // another pass at the same spend: nothing fires again
    await m.collect();
    assert.equal(received.length, 2);

    // more spend crosses 100 % of actual: that threshold fires, once
    const more = await h.instance(project, 'more', '2026-11-12T00:00:00Z', { vcpus: 1, ramMb: 2048, diskGb: 0 });
    await h.state(more, 'running', '2026-11-12T00:00:00Z');
    await h.state(more, 'stopped', '2026-11-20T00:00:00Z'); // 192 h × 0.025 = 4.80 → 26.40
    clock.set('2026-11-20T12:30:00Z');
    await m.collect();
    await m.collect();
    assert.deepEqual(received.map((r) => `${r.threshold}/${r.basis}`).sort(), ['100/actual', '100/forecast', '80/actual']);
    b = await m.budgets.get('monthly');
    assert.equal(b.status.state, 'exceeded');
    assert.equal(b.status.actual, '26.40');
    assert.match(await budgetBlocks(tc.cloud.ctx.store, project) ?? '', /budget 'monthly' is exceeded/);
    // the event stream saw the status change
    const ev = await tc.cloud.ctx.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE kind = 'budget' AND type = 'MODIFIED' AND object LIKE '%exceeded%'");
    assert.ok(Number(ev!.n) >= 1);

    // a new month starts a new period: thresholds may fire again
    clock.set('2026-12-31T12:00:00Z');
    await m.collect();
    b = await m.budgets.get('monthly');
    assert.equal(b.status.period, '2026-12');
    assert.equal(b.status.actual, '0.00');
    assert.equal(received.length, 3);
    // November closed on that pass, with the spend the budget saw
    const nov = await m.invoice('2026-11');
    assert.equal(nov.state, 'closed');
    assert.equal(nov.total, '26.40');
  });
});
