import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { buildQuery, QTYPE_AAAA, RCODE, readAnswer } from './packet.ts';
import { DnsServer, resolvConf } from './server.ts';

test('answers A records, NODATA for AAAA, NXDOMAIN otherwise', () => {
  const s = new DnsServer({ host: '127.0.0.1' });
  s.setRecords([{ name: 'web-1.prod.internal', ip: '10.0.0.2' }, { name: 'WEB-1.prod.internal.', ip: '10.0.0.3' }]);
  const a = readAnswer(s.answer(buildQuery(7, 'Web-1.Prod.Internal'))!);
  assert.deepEqual(a, { id: 7, rcode: RCODE.NOERROR, addrs: ['10.0.0.2', '10.0.0.3'] });
  const aaaa = readAnswer(s.answer(buildQuery(8, 'web-1.prod.internal', QTYPE_AAAA))!);
  assert.deepEqual(aaaa, { id: 8, rcode: RCODE.NOERROR, addrs: [] });
  const nx = readAnswer(s.answer(buildQuery(9, 'example.com'))!);
  assert.deepEqual(nx, { id: 9, rcode: RCODE.NXDOMAIN, addrs: [] });
});

test('hostile packets never throw and never get an amplified answer', () => {
  const s = new DnsServer({ host: '127.0.0.1' });
  s.setRecords([{ name: 'a.b.internal', ip: '10.0.0.2' }]);
  const base = buildQuery(1, 'a.b.internal');
  // truncated at every length
  for (let n = 0; n < base.length; n++) {
    const out = s.answer(base.subarray(0, n));
    if (out) assert.ok(out.length <= 12 + base.length, 'no amplification');
  }
  // compression pointer loop in question
  const loop = Buffer.concat([base.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  assert.equal(readAnswer(s.answer(loop)!).rcode, RCODE.FORMERR);
  // a response is never answered (no reflection loops)
  const resp = Buffer.from(base);
  resp[2] = resp[2]! | 0x80;
  assert.equal(s.answer(resp), undefined);
  // qdcount 2
  const two = Buffer.from(base);
  two.writeUInt16BE(2, 4);
  assert.equal(readAnswer(s.answer(two)!).rcode, RCODE.FORMERR);
  // random garbage
  for (let i = 0; i < 5000; i++) {
    const b = randomBytes(Math.floor(Math.random() * 80));
    const out = s.answer(b);
    if (out) assert.ok(out.length <= 12 + b.length + 16);
  }
  // over-long name
  const long = buildQuery(3, Array.from({ length: 10 }, () => 'x'.repeat(60)).join('.'));
  assert.equal(readAnswer(s.answer(long)!).rcode, RCODE.FORMERR);
});

test('serves over UDP', async () => {
  const s = new DnsServer({ host: '127.0.0.1', port: 0 });
  s.setRecords([{ name: 'db.net.internal', ip: '10.9.0.4' }]);
  const { port } = await s.listen();
  const c = createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve) => {
      c.once('message', resolve);
      c.send(buildQuery(42, 'db.net.internal'), port, '127.0.0.1');
    });
    assert.deepEqual(readAnswer(reply), { id: 42, rcode: 0, addrs: ['10.9.0.4'] });
  } finally {
    c.close();
    await s.close();
  }
  assert.match(resolvConf('10.9.0.1', 'net.internal'), /nameserver 10\.9\.0\.1\nsearch net\.internal/);
});
