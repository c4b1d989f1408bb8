/** The router against real local HTTP servers as replicas. */
import assert from 'node:assert/strict';
import { type Server, createServer, request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AppRouter, appHost } from './router.ts';

const get = (port: number, host: string, path = '/', headers: Record<string, string> = {}) => new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((ok, fail) => {
  const r = request({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
  });
  r.on('error', fail);
  r.end();
});

describe('apps router', () => {
  const servers: Server[] = [];
  const ports: number[] = [];
  const router = new AppRouter({ port: 0 });
  before(async () => {
    for (const name of ['a', 'b']) {
      const s = createServer((req, res) => res.end(JSON.stringify({ name, xff: req.headers['x-forwarded-for'], proto: req.headers['x-forwarded-proto'], xhost: req.headers['x-forwarded-host'] })));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      servers.push(s);
      ports.push((s.address() as { port: number }).port);
    }
    await router.start();
  });
  after(async () => {
    await router.stop();
    for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
  });

  it('routes by host (generated and custom domains), round-robins, sets X-Forwarded-*', async () => {
    router.setRoute('app-1', {
      project: 'prj-1', projectName: 'default', app: 'shop', hosts: [appHost('shop', 'default'), 'shop.example.com'],
      backends: [{ id: 'i-a', host: '127.0.0.1', port: ports[0]! }, { id: 'i-b', host: '127.0.0.1', port: ports[1]! }],
    });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(JSON.parse((await get(router.port, `shop.default.apps.localhost:${router.port}`)).body).name);
    assert.deepEqual([...new Set(seen)].sort(), ['a', 'b']);
    assert.equal(seen.filter((x) => x === 'a').length, 2);
    const r = JSON.parse((await get(router.port, 'shop.example.com', '/', { 'x-forwarded-for': '10.9.9.9' })).body);
    assert.equal(r.xff, '10.9.9.9, 127.0.0.1');
    assert.equal(r.proto, 'http');
    assert.equal(r.xhost, 'shop.example.com');
    assert.equal((await get(router.port, 'other.default.apps.localhost')).status, 404);
    const t = router.metrics.traffic('prj-1', 'shop');
    assert.equal(t.totalRequests, 5);
    assert.equal(t.totalErrors, 0);
    assert.ok(t.requestsPerSecond > 0 && t.p95Ms > 0);
  });

  it('counts the bytes each app sends out, once (metering)', async () => {
    router.metrics.takeBytesOut();
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await get(router.port, 'shop.example.com')).body);
    await get(router.port, 'nobody.default.apps.localhost'); // a 404 of the router's own is not an app's
    const out = router.metrics.takeBytesOut();
    assert.deepEqual(out.map((o) => [o.project, o.app]), [['prj-1', 'shop']]);
    const body = bodies.reduce((n, b) => n + b.length, 0);
    assert.ok(out[0]!.bytes > body && out[0]!.bytes < body + 3 * 400, `bodies ${body} bytes plus three heads: counted ${out[0]!.bytes}`);
    assert.deepEqual(router.metrics.takeBytesOut(), [], 'taken bytes are forgotten');
  });

  it('retries GETs on a dead replica; 503 when none is ready; path prefixes', async () => {
    router.setRoute('app-2', {
      project: 'prj-1', projectName: 'default', app: 'flaky', hosts: ['flaky.default.apps.localhost'],
      backends: [{ id: 'i-dead', host: '127.0.0.1', port: 1 }, { id: 'i-a', host: '127.0.0.1', port: ports[0]! }],
    });
    for (let i = 0; i < 4; i++) assert.equal((await get(router.port, 'flaky.default.apps.localhost')).status, 200);
    router.setRoute('app-2', { project: 'prj-1', projectName: 'default', app: 'flaky', hosts: ['flaky.default.apps.localhost'], backends: [] });
    assert.equal((await get(router.port, 'flaky.default.apps.localhost')).status, 503);
    assert.equal(router.metrics.traffic('prj-1', 'flaky').totalErrors, 1);
    // scale from zero: a held request is answered once a replica appears
    router.setRoute('app-2', { project: 'prj-1', projectName: 'default', app: 'flaky', hosts: ['flaky.default.apps.localhost'], backends: [], holdMs: 5000 });
    const held = get(router.port, 'flaky.default.apps.localhost');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(router.metrics.traffic('prj-1', 'flaky').inFlight, 1, 'the held request is in flight (the autoscaler sees demand)');
    router.setRoute('app-2', { project: 'prj-1', projectName: 'default', app: 'flaky', hosts: ['flaky.default.apps.localhost'], backends: [{ id: 'i-a', host: '127.0.0.1', port: ports[0]! }], holdMs: 5000 });
    assert.equal((await held).status, 200);
    router.setRoute('app-3', { project: 'prj-1', projectName: 'default', app: 'api', pathPrefix: '/api', hosts: ['api.example.com'], backends: [{ id: 'i-a', host: '127.0.0.1', port: ports[0]! }] });
    assert.equal((await get(router.port, 'api.example.com', '/api/x')).status, 200);
    assert.equal((await get(router.port, 'api.example.com', '/apix')).status, 404);
    router.removeRoute('app-3');
    assert.equal((await get(router.port, 'api.example.com', '/api/x')).status, 404);
  });

  it('splices upgrades (WebSocket-style) to a replica, with X-Forwarded-For', async () => {
    servers[0]!.once('upgrade', (req, sock) => {
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Seen-XFF: ${req.headers['x-forwarded-for']}\r\n\r\n`);
      sock.pipe(sock);
    });
    router.setRoute('app-ws', { project: 'prj-1', projectName: 'default', app: 'ws', hosts: ['ws.example.com'], backends: [{ id: 'i-a', host: '127.0.0.1', port: ports[0]! }] });
    const got = await new Promise<string>((ok, fail) => {
      const s = connect(router.port, '127.0.0.1', () => s.write('GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => {
        buf += d;
        if (buf.includes('\r\n\r\n') && !buf.includes('ping')) s.write('ping');
        if (buf.endsWith('ping')) { s.destroy(); ok(buf); }
      }).on('error', fail);
    });
    assert.match(got, /^HTTP\/1.1 101/);
    assert.match(got, /X-Seen-XFF: 127\.0\.0\.1/);
    router.removeRoute('app-ws');
  });
});
