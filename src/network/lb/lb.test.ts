import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { test } from 'node:test';
import { matchRoute } from './http.ts';
import { NodeLoadBalancer } from './node.ts';
import type { LoadBalancerSpec } from './types.ts';

interface Backend {
  name: string;
  server: Server;
  port: number;
  seen: { xff?: string; host?: string; path?: string }[];
  sockets: Set<unknown>;
  delayMs: number;
  fail: boolean;
}

async function backend(name: string): Promise<Backend> {
  const b = { name, seen: [], sockets: new Set(), delayMs: 0, fail: false } as unknown as Backend;
  b.server = createServer((req, res) => {
    b.seen.push({ xff: req.headers['x-forwarded-for'] as string, host: req.headers['x-forwarded-host'] as string, path: req.url });
    if (req.url === '/health' && b.fail) {
      res.statusCode = 500;
      return res.end();
    }
    setTimeout(() => res.end(name), b.delayMs);
  });
  b.server.on('connection', (s) => b.sockets.add(s));
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

const stop = (b: Backend) => new Promise<void>((r) => { b.server.closeAllConnections(); b.server.close(() => r()); });

function get(port: number, path = '/', host = 'app.example'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

test('L7: round robin, X-Forwarded-For, host/path rules, keep-alive to members', async () => {
  const [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
  const lb = new NodeLoadBalancer();
  try {
    const spec: LoadBalancerSpec = {
      id: 'lb1',
      pools: [
        { id: 'web', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }] },
        { id: 'api', algorithm: 'round_robin', members: [{ id: 'c', host: '127.0.0.1', port: c.port }] },
      ],
      listeners: [{ id: 'http', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'web', routes: [{ host: 'api.example', pool: 'api' }, { pathPrefix: '/v2', pool: 'api' }] }],
    };
    const st = await lb.ensure(spec);
    const port = st.listeners[0]!.port;
    const bodies = [];
    for (let i = 0; i < 6; i++) bodies.push((await get(port)).body);
    assert.deepEqual(bodies, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.equal((await get(port, '/x', 'api.example')).body, 'c');
    assert.equal((await get(port, '/v2/items')).body, 'c');
    assert.equal((await get(port, '/v2x')).body !== 'c', true, 'prefix matches whole segments only');
    assert.equal(a.seen[0]!.xff, '127.0.0.1');
    assert.equal(a.seen[0]!.host, 'app.example');
    // keep-alive: 3+ requests to a reused only a connection or two
    assert.ok(a.sockets.size <= 2, `member connections reused (${a.sockets.size})`);
    // ensure again is idempotent, keeps the port
    assert.equal((await lb.ensure(spec)).listeners[0]!.port, port);
  } finally {
    await lb.close();
    await Promise.all([a, b, c].map(stop));
  }
});

test('least connections prefers the idle member', async () => {
  const [a, b] = await Promise.all([backend('a'), backend('b')]);
  a.delayMs = 400;
  const lb = new NodeLoadBalancer();
  try {
    const st = await lb.ensure({
      id: 'lb2',
      pools: [{ id: 'p', algorithm: 'least_connections', members: [{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }] }],
      listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });
    const port = st.listeners[0]!.port;
    const slow = get(port); // lands on a (first pick), stays busy 400 ms
    await new Promise((r) => setTimeout(r, 50));
    const quick = [];
    for (let i = 0; i < 4; i++) quick.push((await get(port)).body);
    assert.deepEqual(quick, ['b', 'b', 'b', 'b']);
    assert.equal((await slow).body, 'a');
  } finally {
    await lb.close();
    await Promise.all([a, b].map(stop));
  }
});

test('active health checks take a failing member out and bring it back (rise/fall)', async () => {
  const [a, b] = await Promise.all([backend('a'), backend('b')]);
  const lb = new NodeLoadBalancer();
  try {
    const st = await lb.ensure({
      id: 'lb3',
      pools: [{
        id: 'p', algorithm: 'round_robin',
        members: [{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }],
        healthCheck: { type: 'http', path: '/health', intervalMs: 60_000, timeoutMs: 500, rise: 2, fall: 2 },
      }],
      listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });
    const port = st.listeners[0]!.port;
    const healthy = () => lb.status('lb3')!.pools[0]!.members.map((m) => m.healthy);
    a.fail = true;
    await lb.checkNow('lb3');
    assert.deepEqual(healthy(), [true, true], 'one failure < fall');
    await lb.checkNow('lb3');
    assert.deepEqual(healthy(), [false, true]);
    for (let i = 0; i < 4; i++) assert.equal((await get(port)).body, 'b');
    a.fail = false;
    await lb.checkNow('lb3');
    assert.deepEqual(healthy(), [false, true], 'one success < rise');
    await lb.checkNow('lb3');
    assert.deepEqual(healthy(), [true, true]);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(port)).body);
    assert.deepEqual([...seen].sort(), ['a', 'b']);
    // a dead member (server gone) fails tcp-level too; all down → 503
    await stop(a);
    await stop(b);
    await lb.checkNow('lb3');
    await lb.checkNow('lb3');
    assert.equal((await get(port)).status, 503);
  } finally {
    await lb.close();
    await Promise.all([a, b].map((x) => stop(x).catch(() => undefined)));
  }
});

test('health checks run on their own interval', async () => {
  const a = await backend('a');
  const lb = new NodeLoadBalancer();
  try {
    await lb.ensure({
      id: 'lb5',
      pools: [{ id: 'p', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }], healthCheck: { type: 'tcp', intervalMs: 50, timeoutMs: 200, rise: 1, fall: 1 } }],
      listeners: [],
    });
    await stop(a);
    const t0 = Date.now();
    while (lb.status('lb5')!.pools[0]!.members[0]!.healthy && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(lb.status('lb5')!.pools[0]!.members[0]!.healthy, false);
  } finally {
    await lb.close();
  }
});

test('L4 TCP proxy spreads connections', async () => {
  const [a, b] = await Promise.all([backend('a'), backend('b')]);
  const lb = new NodeLoadBalancer();
  try {
    const st = await lb.ensure({
      id: 'lb4',
      pools: [{ id: 'p', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }] }],
      listeners: [{ id: 'l', protocol: 'tcp', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });
    const port = st.listeners[0]!.port;
    const raw = () => new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => { buf += d; }).on('end', () => resolve(buf.split('\r\n\r\n')[1]!)).on('error', reject);
    });
    assert.deepEqual([await raw(), await raw(), await raw()], ['a', 'b', 'a']);
    assert.equal(b.seen[0]!.xff, undefined, 'L4 does not touch the stream');
  } finally {
    await lb.close();
    await Promise.all([a, b].map(stop));
  }
});

test('a member that hangs gets a 504 after the member timeout', async () => {
  const a = await backend('a');
  a.delayMs = 2000;
  const lb = new NodeLoadBalancer({ memberTimeoutMs: 200 });
  try {
    const st = await lb.ensure({
      id: 'lb6',
      pools: [{ id: 'p', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }] }],
      listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });
    const t0 = Date.now();
    assert.equal((await get(st.listeners[0]!.port)).status, 504);
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(lb.status('lb6')!.pools[0]!.members[0]!.activeConnections, 0);
  } finally {
    await lb.close();
    await stop(a);
  }
});

test('L7 passes protocol upgrades (WebSocket-style) through', async () => {
  const a = await backend('a');
  a.server.on('upgrade', (req, sock) => {
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Seen-XFF: ${req.headers['x-forwarded-for']}\r\n\r\n`);
    sock.pipe(sock);
  });
  const lb = new NodeLoadBalancer();
  try {
    const st = await lb.ensure({
      id: 'lb7',
      pools: [{ id: 'p', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }] }],
      listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }],
    });
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect(st.listeners[0]!.port, '127.0.0.1', () => s.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => {
        buf += d;
        if (buf.includes('\r\n\r\n') && !buf.includes('ping')) s.write('ping');
        if (buf.endsWith('ping')) { s.destroy(); resolve(buf); }
      }).on('error', reject);
    });
    assert.match(got, /^HTTP\/1.1 101/);
    assert.match(got, /X-Seen-XFF: 127\.0\.0\.1/);
    assert.ok(got.endsWith('ping'));
  } finally {
    await lb.close();
    await stop(a);
  }
});

test('validation and route matching', async () => {
  const lb = new NodeLoadBalancer();
  // a listener that cannot bind leaves nothing listening
  const squat = createServer();
  await new Promise<void>((r) => squat.listen(0, '127.0.0.1', r));
  const busy = (squat.address() as AddressInfo).port;
  await assert.rejects(lb.ensure({
    id: 'y', pools: [{ id: 'p', algorithm: 'round_robin', members: [] }],
    listeners: [{ id: 'ok', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'p' }, { id: 'busy', protocol: 'http', host: '127.0.0.1', port: busy, defaultPool: 'p' }],
  }), (e: { code?: string }) => e.code === 'Conflict');
  assert.equal(lb.status('y'), undefined);
  await new Promise((r) => squat.close(r));
  await assert.rejects(lb.ensure({ id: 'x', pools: [], listeners: [{ id: 'l', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'nope' }] }), (e: { field?: string }) => e.field === 'listeners/0');
  await assert.rejects(lb.ensure({ id: 'x', pools: [{ id: 'p', algorithm: 'random' as 'round_robin', members: [] }], listeners: [] }), (e: { field?: string }) => e.field === 'pools/0/algorithm');
  assert.equal(matchRoute([{ host: '*.example', pool: 'w' }], 'a.example:80', '/')?.pool, 'w');
  assert.equal(matchRoute([{ host: '*.example', pool: 'w' }], 'example', '/'), undefined);
  await lb.close();
});

test('bytes sent to clients are counted per load balancer, once', async () => {
  const a = await backend('a'.repeat(50_000));
  const lb = new NodeLoadBalancer();
  try {
    const st = await lb.ensure({
      id: 'lb-bytes',
      pools: [{ id: 'web', algorithm: 'round_robin', members: [{ id: 'a', host: '127.0.0.1', port: a.port }] }],
      listeners: [{ id: 'http', protocol: 'http', host: '127.0.0.1', port: 0, defaultPool: 'web' }, { id: 'tcp', protocol: 'tcp', host: '127.0.0.1', port: 0, defaultPool: 'web' }],
    });
    for (const l of st.listeners) assert.equal((await get(l.port)).body.length, 50_000);
    const n = lb.takeDataOut()['lb-bytes'] ?? 0;
    assert.ok(n >= 100_000 && n < 101_000, `two 50 000-byte bodies and their heads: counted ${n}`);
    assert.equal(lb.takeDataOut()['lb-bytes'] ?? 0, 0, 'taken bytes are forgotten');
  } finally {
    await lb.close();
    await stop(a);
  }
});
