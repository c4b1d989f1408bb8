/** The HTTP/1.1 proxy engine against real Node HTTP servers and raw sockets. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type Server, createServer, request } from 'node:http';
import { type AddressInfo, type Server as NetServer, connect, createServer as createNetServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Exchange, type ProxyError, UpstreamPool, createH1Proxy } from './h1.ts';

const listen = async <S extends Server | NetServer>(s: S): Promise<number> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
};

/** Writes `raw` on a fresh connection and collects everything until the server closes (or `until` matches). */
const rawExchange = (port: number, raw: string | Buffer, until?: (s: string) => boolean) => new Promise<string>((ok, fail) => {
  const s = connect(port, '127.0.0.1', () => s.write(raw));
  let got = '';
  s.on('data', (d) => { got += d.toString('latin1'); if (until?.(got)) { s.destroy(); ok(got); } });
  s.on('end', () => ok(got));
  s.on('error', fail);
});

describe('h1 proxy engine', () => {
  let backend: Server;
  let bport = 0;
  const connections: unknown[] = [];
  let raw: NetServer;
  let rport = 0;
  let pool: UpstreamPool;
  const results: { status: number; err?: ProxyError }[] = [];
  const proxy = createH1Proxy({
    onRequest(ex: Exchange) {
      const target = ex.url.startsWith('/raw') ? new UpstreamPool('127.0.0.1', rport) : ex.url.startsWith('/dead') ? new UpstreamPool('127.0.0.1', 1) : pool;
      ex.forward(target, (status, err) => {
        results.push({ status, err });
        if (err && ex.canRespond) ex.reply(502, `failed: ${err.code}\n`);
      });
    },
  });
  let port = 0;

  before(async () => {
    backend = createServer((req, res) => {
      const u = req.url ?? '';
      if (u === '/echo-headers') { res.setHeader('x-test', 'yes'); res.end(JSON.stringify(req.headers)); return; }
      if (u === '/no-content') { res.writeHead(204).end(); return; }
      if (u === '/early') { res.writeHead(413).end('too big'); return; }
      if (u === '/hash') {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => { h.update(c); n += c.length; });
        req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
        return;
      }
      if (u === '/big') { res.write(Buffer.alloc(3_000_000, 97)); res.end('end'); return; }
      res.end(`${req.method} ${u}`);
    });
    backend.on('connection', (s) => connections.push(s));
    bport = await listen(backend);
    pool = new UpstreamPool('127.0.0.1', bport, 2000);
    // an HTTP/1.0-style upstream: no length, body ends when it closes
    // /raw: an HTTP/1.0-style upstream, no length, the body ends when it closes.
    // /raw-flaky: answers one request per connection and drops the connection on the next one
    // (a keep-alive close racing with a reused connection)
    raw = createNetServer((s) => {
      let n = 0;
      s.on('data', (d) => {
        if (!d.toString().includes(' /raw-flaky ')) { s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close'); return; }
        if (n++ === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh');
        else s.destroy();
      });
    });
    rport = await listen(raw);
    port = await listen(proxy);
  });
  after(async () => {
    pool.close();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
    await new Promise((r) => raw.close(r));
  });

  it('forwards, sets X-Forwarded-*, drops hop-by-hop headers and reuses upstream connections', async () => {
    const before = connections.length;
    for (let i = 0; i < 5; i++) {
      const got = await rawExchange(port, 'GET /echo-headers HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.0.0.9\r\nConnection: close, x-secret\r\nX-Secret: 1\r\nTE: trailers\r\n\r\n');
      assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(got, /\r\nx-test: yes\r\n/i);
      assert.match(got, /\r\nconnection: close\r\n/i);
      const h = JSON.parse(got.split('\r\n\r\n')[1]!);
      assert.equal(h['x-forwarded-for'], '10.0.0.9, 127.0.0.1');
      assert.equal(h['x-forwarded-host'], 'a.example');
      assert.equal(h['x-forwarded-proto'], 'http');
      assert.equal(h.host, 'a.example');
      assert.equal(h['x-secret'], undefined, 'headers named in Connection are dropped');
      assert.equal(h.te, undefined);
    }
    assert.equal(connections.length - before, 1, 'one upstream connection for sequential requests');
  });

  it('answers pipelined requests in order, HEAD and 204 without a body', async () => {
    const got = await rawExchange(port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /no-content HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '204', '200']);
    assert.ok(got.indexOf('GET /a') < got.indexOf('POST /c'));
    assert.ok(!got.includes('HEAD /b'), 'no body for HEAD');
  });

  it('streams large request bodies (length and chunked) and large responses intact', async () => {
    const body = Buffer.alloc(5_000_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const want = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
    const post = (chunked: boolean) => new Promise<string>((ok, fail) => {
      const r = request({ host: '127.0.0.1', port, path: '/hash', method: 'POST', headers: chunked ? {} : { 'content-length': body.length } }, (res) => {
        let s = '';
        res.on('data', (c) => { s += c; }).on('end', () => ok(s));
      });
      r.on('error', fail);
      if (chunked) { for (let o = 0; o < body.length; o += 65536) r.write(body.subarray(o, o + 65536)); r.end(); } else r.end(body);
    });
    assert.equal(await post(false), want);
    assert.equal(await post(true), want);
    const n = await new Promise<number>((ok, fail) => request({ host: '127.0.0.1', port, path: '/big' }, (res) => {
      let len = 0;
      res.on('data', (c: Buffer) => { len += c.length; }).on('end', () => ok(len));
    }).on('error', fail).end());
    assert.equal(n, 3_000_003);
  });

  it('passes 100 Continue and close-delimited responses; HTTP/1.0 clients get connection: close', async () => {
    const cont = await rawExchange(port, 'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.match(cont, /^HTTP\/1\.1 100 Continue\r\n/);
    const close = await rawExchange(port, 'GET /raw HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(close, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(close, /connection: close/i);
    assert.ok(close.endsWith('until close'));
    const old = await rawExchange(port, 'GET /old HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.match(old, /connection: close/i);
    assert.ok(old.endsWith('GET /old'));
  });

  it('an answer before the request body ended is delivered, then the connection closes', async () => {
    const got = await rawExchange(port, 'POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n0123456789');
    assert.match(got, /^HTTP\/1\.1 413 /);
    assert.match(got, /\r\nconnection: close\r\n/i);
    assert.match(got, /too big\r\n0\r\n\r\n$/, 'the whole (chunked) answer, then the end');
  });

  it('refuses malformed and ambiguous requests', async () => {
    assert.match(await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'), /^HTTP\/1\.1 400 /);
    assert.match(await rawExchange(port, 'NOT A REQUEST\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });

  it('reports a dead upstream to the handler, and resends a GET whose reused connection was closed', async () => {
    results.length = 0;
    const dead = await rawExchange(port, 'GET /dead HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(dead, /^HTTP\/1\.1 502 .*\r\n[\s\S]*failed: ECONNREFUSED/);
    assert.equal(results[0]!.err?.code, 'ECONNREFUSED');
    // the backend closes idle keep-alive connections right away; the pool does not know yet
    backend.keepAliveTimeout = 1;
    await rawExchange(port, 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 3; i++) assert.match(await rawExchange(port, 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
    backend.keepAliveTimeout = 5000;
    const flaky = new UpstreamPool('127.0.0.1', rport);
    const direct = createH1Proxy({ onRequest: (ex) => ex.forward(flaky, (_s, err) => { if (err && ex.canRespond) ex.reply(502, `${err.code}\n`); }) });
    const dport = await listen(direct);
    try {
      for (let i = 0; i < 3; i++) assert.match(await rawExchange(dport, 'GET /raw-flaky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 [\s\S]*fresh$/);
      assert.match(await rawExchange(dport, 'POST /raw-flaky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 502 /, 'a POST is not resent');
    } finally {
      flaky.close();
      direct.closeAllConnections();
      await new Promise((r) => direct.close(r));
    }
  });
});
