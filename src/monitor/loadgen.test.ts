import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isLoopbackHost, runLoad } from './loadgen.ts';

describe('load generator', () => {
  let server: Server;
  let url = '';
  let paused = false;
  const held: (() => void)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const answer = () => setTimeout(() => res.writeHead(req.url === '/fail' ? 500 : 200).end('ok'), 20);
      if (paused) held.push(answer); else answer();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => { server.closeAllConnections(); await new Promise((r) => server.close(() => r(undefined))); });

  it('only targets loopback', async () => {
    assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('shop.default.apps.localhost') && isLoopbackHost('[::1]'));
    assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('example.com'));
    await assert.rejects(runLoad({ url: 'http://10.1.2.3/', rps: 1, durationMs: 10 }), /loopback/);
  });

  it('open loop holds the rate and reports latency percentiles and errors', async () => {
    const r = await runLoad({ url: `${url}/`, rps: 200, durationMs: 1000 });
    assert.ok(r.sent >= 195 && r.sent <= 201, `sent ${r.sent}`);
    assert.equal(r.errors, 0);
    assert.ok(r.latencyMs.p50 >= 20 && r.latencyMs.p50 < 200, JSON.stringify(r.latencyMs));
    const f = await runLoad({ url: `${url}/fail`, rps: 50, durationMs: 400 });
    assert.equal(f.errors, f.sent);
    assert.equal(f.statusCounts['500'], f.sent);
  });

  it('measures from the intended send time: a stalled server shows in the latency', async () => {
    paused = true;
    setTimeout(() => { paused = false; for (const h of held.splice(0)) h(); }, 500);
    const r = await runLoad({ url: `${url}/`, rps: 100, durationMs: 1000 });
    // Requests due during the stall waited up to ~500 ms: p50 well above the 20 ms service time.
    assert.ok(r.latencyMs.max >= 450, JSON.stringify(r.latencyMs));
    assert.ok(r.latencyMs.mean >= 100 && r.latencyMs.p90 >= 300, JSON.stringify(r.latencyMs));
  });

  it('closed loop with fixed concurrency', async () => {
    const r = await runLoad({ url: `${url}/`, concurrency: 4, durationMs: 500 });
    assert.equal(r.mode, 'closed');
    assert.ok(r.completed >= 40 && r.completed <= 120, String(r.completed));
  });
});
