/** Protocol-level behaviour with a raw SigV4 client: auth failures, streaming uploads, hostile input, CORS, integrity. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { amzDate, chunkSignature, presignUrl, scopeOf, signingKey, trailerSignature } from '../../src/objects/s3/sigv4.ts';
import { KEY_A, KEY_B, startServer, type TestServer } from './helpers.ts';
import { errorCode, send, sha256, signed } from './raw.ts';

let srv: TestServer;
const A = { accessKeyId: KEY_A.accessKeyId, secretAccessKey: KEY_A.secretAccessKey };
const B = { accessKeyId: KEY_B.accessKeyId, secretAccessKey: KEY_B.secretAccessKey };
const url = (p: string) => `${srv.url}${p}`;

before(async () => {
  srv = await startServer();
  assert.equal((await signed(A, 'PUT', url('/proto')).send()).status, 200);
});
after(() => srv.close());

describe('authentication failures', () => {
  test('wrong signature, unknown key, skew, missing content sha', async () => {
    const s = signed({ ...A, secretAccessKey: 'wrong' }, 'GET', url('/proto'));
    const r1 = await s.send();
    assert.equal(r1.status, 403);
    assert.equal(errorCode(r1), 'SignatureDoesNotMatch');
    assert.match(r1.text, /<RequestId>[A-Z0-9]+<\/RequestId>/);
    const r2 = await signed({ accessKeyId: 'AKIANOSUCHKEY', secretAccessKey: 'x' }, 'GET', url('/proto')).send();
    assert.equal(errorCode(r2), 'InvalidAccessKeyId');
    assert.equal(r2.status, 403);
    const r3 = await signed(A, 'GET', url('/proto'), { date: new Date(Date.now() - 16 * 60_000) }).send();
    assert.equal(r3.status, 403);
    assert.equal(errorCode(r3), 'RequestTimeTooSkewed');
    const ok = signed(A, 'GET', url('/proto'));
    const { 'x-amz-content-sha256': _drop, ...noSha } = ok.headers;
    const r4 = await send(url('/proto'), 'GET', noSha);
    assert.equal(r4.status, 400);
    const r5 = await send(url('/proto'), 'GET', {});
    assert.equal(r5.status, 403, 'anonymous listing of a private bucket');
    assert.equal(errorCode(r5), 'AccessDenied');
  });

  test('presigned URLs: work, expire, reject tampering, apply response overrides', async () => {
    await signed(A, 'PUT', url('/proto/pre.txt'), { body: 'presigned body' }).send();
    const good = presignUrl({ method: 'GET', url: url('/proto/pre.txt?response-content-type=text%2Fx-pre'), region: 'us-east-1', credentials: A, expiresIn: 60 });
    const r = await send(good, 'GET', {});
    assert.equal(r.status, 200);
    assert.equal(r.text, 'presigned body');
    assert.equal(r.headers['content-type'], 'text/x-pre');
    const expired = presignUrl({ method: 'GET', url: url('/proto/pre.txt'), region: 'us-east-1', credentials: A, expiresIn: 1, date: new Date(Date.now() - 10_000) });
    const e = await send(expired, 'GET', {});
    assert.equal(e.status, 403);
    assert.equal(errorCode(e), 'AccessDenied');
    assert.match(e.text, /Request has expired/);
    const tampered = good.replace('pre.txt', 'prf.txt');
    assert.equal(errorCode(await send(tampered, 'GET', {})), 'SignatureDoesNotMatch');
    const tooLong = presignUrl({ method: 'GET', url: url('/proto/pre.txt'), region: 'us-east-1', credentials: A, expiresIn: 604801 });
    assert.equal((await send(tooLong, 'GET', {})).status, 400);
    const put = presignUrl({ method: 'PUT', url: url('/proto/pre-put.txt'), region: 'us-east-1', credentials: A, expiresIn: 60 });
    assert.equal((await send(put, 'PUT', { 'content-length': '3' }, 'abc')).status, 200);
  });

  test('payload hash mismatch is refused and nothing is stored', async () => {
    const s = signed(A, 'PUT', url('/proto/sha'), { body: 'real body' });
    const r = await send(url('/proto/sha'), 'PUT', { ...s.headers, 'content-length': '9' }, 'fake body');
    assert.equal(r.status, 400);
    assert.equal(errorCode(r), 'XAmzContentSHA256Mismatch');
    assert.equal((await signed(A, 'GET', url('/proto/sha')).send()).status, 404);
  });

  test('Content-MD5 mismatch → BadDigest; invalid → InvalidDigest', async () => {
    const bad = createHash('md5').update('other').digest('base64');
    const r = await signed(A, 'PUT', url('/proto/md5'), { body: 'body', headers: { 'content-md5': bad } }).send();
    assert.equal(errorCode(r), 'BadDigest');
    const r2 = await signed(A, 'PUT', url('/proto/md5'), { body: 'body', headers: { 'content-md5': 'zz' } }).send();
    assert.equal(errorCode(r2), 'InvalidDigest');
  });
});

function chunkedBody(data: Buffer, chunk: number, sign?: { key: Buffer; date: string; scope: string; seed: string }, trailer?: [string, string], tamperAt?: number) {
  const parts: Buffer[] = [];
  let prev = sign?.seed ?? '';
  const pieces: Buffer[] = [];
  for (let o = 0; o < data.length; o += chunk) pieces.push(data.subarray(o, o + chunk));
  pieces.push(Buffer.alloc(0));
  pieces.forEach((p, i) => {
    let head = p.length.toString(16);
    if (sign) { prev = chunkSignature(sign.key, sign.date, sign.scope, prev, sha256(p)); head += `;chunk-signature=${prev}`; }
    const payload = tamperAt === i ? Buffer.from(p).fill(0x41) : p;
    parts.push(Buffer.from(`${head}\r\n`), payload, Buffer.from(p.length ? '\r\n' : ''));
  });
  if (trailer) {
    const t = `${trailer[0]}:${trailer[1]}`;
    parts.push(Buffer.from(`${t}\r\n`));
    if (sign) parts.push(Buffer.from(`x-amz-trailer-signature:${trailerSignature(sign.key, sign.date, sign.scope, prev, `${t}\n`)}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

describe('aws-chunked uploads', () => {
  const data = randomBytes(200_000);
  const crcB64 = () => { const b = Buffer.alloc(4); b.writeUInt32BE(crc32(data)); return b.toString('base64'); };

  async function signedStreaming(key: string, opts: { tamperAt?: number; trailer?: boolean } = {}) {
    const date = new Date();
    const ad = amzDate(date);
    const mode = opts.trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    const hdrs: Record<string, string> = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) };
    if (opts.trailer) hdrs['x-amz-trailer'] = 'x-amz-checksum-crc32';
    const s = signed(A, 'PUT', url(`/proto/${key}`), { headers: hdrs, payloadHash: mode, date });
    const body = chunkedBody(data, 65536, { key: signingKey(A.secretAccessKey, ad.slice(0, 8), 'us-east-1', 's3'), date: ad, scope: scopeOf(ad.slice(0, 8), 'us-east-1', 's3'), seed: s.signature }, opts.trailer ? ['x-amz-checksum-crc32', crcB64()] : undefined, opts.tamperAt);
    return send(url(`/proto/${key}`), 'PUT', { ...s.headers, 'content-length': String(body.length) }, body);
  }

  test('signed chunks are verified; a tampered chunk is refused and nothing is stored', async () => {
    const ok = await signedStreaming('chunked-ok');
    assert.equal(ok.status, 200, ok.text);
    const g = await signed(A, 'GET', url('/proto/chunked-ok')).send();
    assert.ok(g.body.equals(data));
    const bad = await signedStreaming('chunked-bad', { tamperAt: 2 });
    assert.equal(bad.status, 403);
    assert.equal(errorCode(bad), 'SignatureDoesNotMatch');
    assert.equal((await signed(A, 'GET', url('/proto/chunked-bad')).send()).status, 404);
  });

  test('signed chunks with a signed checksum trailer', async () => {
    const ok = await signedStreaming('chunked-trailer', { trailer: true });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['x-amz-checksum-crc32'], crcB64());
  });

  test('STREAMING-UNSIGNED-PAYLOAD-TRAILER with x-amz-checksum-crc32; wrong checksum → BadDigest', async () => {
    const mk = (crc: string) => {
      const s = signed(A, 'PUT', url('/proto/unsigned-trailer'), { headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' }, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' });
      const body = chunkedBody(data, 8192, undefined, ['x-amz-checksum-crc32', crc]);
      return send(url('/proto/unsigned-trailer'), 'PUT', { ...s.headers, 'content-length': String(body.length) }, body);
    };
    const ok = await mk(crcB64());
    assert.equal(ok.status, 200, ok.text);
    const bad = await mk('AAAAAA==');
    assert.equal(errorCode(bad), 'BadDigest');
    const g = await signed(A, 'GET', url('/proto/unsigned-trailer'), { headers: { 'x-amz-checksum-mode': 'ENABLED' } }).send();
    assert.ok(g.body.equals(data));
    assert.equal(g.headers['x-amz-checksum-crc32'], crcB64());
  });
});

describe('hostile input', () => {
  test('XML with entities, deep nesting, or a huge body gets a 400', async () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>';
    const r1 = await signed(A, 'POST', url('/proto?delete'), { body: xxe }).send();
    assert.equal(r1.status, 400);
    assert.equal(errorCode(r1), 'MalformedXML');
    const deep = `<Delete>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</Delete>`;
    assert.equal((await signed(A, 'POST', url('/proto?delete'), { body: deep }).send()).status, 400);
    const huge = `<Delete>${'<Object><Key>k</Key></Object>'.repeat(100_000)}</Delete>`;
    assert.equal((await signed(A, 'POST', url('/proto?delete'), { body: huge }).send()).status, 400);
    assert.equal((await signed(A, 'POST', url('/proto?delete'), { body: '<Delete><Object>' }).send()).status, 400);
    assert.equal((await signed(A, 'GET', url('/proto')).send()).status, 200, 'server still alive');
  });
});

describe('addressing, policy, ACL, CORS', () => {
  test('virtual-hosted style', async () => {
    const s = signed(A, 'PUT', `http://proto.s3.localhost:${srv.port}/vhost.txt`, { body: 'vh' });
    const r = await send(url('/vhost.txt'), 'PUT', s.headers, 'vh');
    assert.equal(r.status, 200, r.text);
    assert.equal((await signed(A, 'GET', url('/proto/vhost.txt')).send()).text, 'vh');
  });

  test('public-read bucket policy lets anonymous read; explicit deny wins for the owner', async () => {
    await signed(A, 'PUT', url('/pub')).send();
    await signed(A, 'PUT', url('/pub/open.txt'), { body: 'hello world' }).send();
    assert.equal((await send(url('/pub/open.txt'), 'GET', {})).status, 403);
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::pub/*' },
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::pub/*' },
    ] });
    const p = await signed(A, 'PUT', url('/pub?policy'), { body: policy }).send();
    assert.equal(p.status, 204, p.text);
    const anon = await send(url('/pub/open.txt'), 'GET', {});
    assert.equal(anon.status, 200);
    assert.equal(anon.text, 'hello world');
    assert.equal((await send(url('/pub'), 'GET', {})).status, 403, 'listing not granted');
    const del = await signed(A, 'DELETE', url('/pub/open.txt')).send();
    assert.equal(del.status, 403, 'explicit deny beats the owner');
    assert.equal(errorCode(await signed(A, 'PUT', url('/pub?policy'), { body: '{nope' }).send()), 'MalformedPolicy');
    // Cross-project principal can read via the policy too, but not write.
    assert.equal((await signed(B, 'GET', url('/pub/open.txt')).send()).status, 200);
    assert.equal((await signed(B, 'PUT', url('/pub/b.txt'), { body: 'x' }).send()).status, 403);
  });

  test('canned ACLs: public-read object, GetBucketAcl grants', async () => {
    await signed(A, 'PUT', url('/proto/acl.txt'), { body: 'acl', headers: { 'x-amz-acl': 'public-read' } }).send();
    assert.equal((await send(url('/proto/acl.txt'), 'GET', {})).status, 200);
    const acl = await signed(A, 'GET', url('/proto/acl.txt?acl')).send();
    assert.match(acl.text, /AllUsers<\/URI><\/Grantee><Permission>READ/);
    const b = await signed(A, 'GET', url('/proto?acl')).send();
    assert.match(b.text, /FULL_CONTROL/);
    assert.doesNotMatch(b.text, /AllUsers/);
  });

  test('CORS configuration and real preflight', async () => {
    const cfg = '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>';
    assert.equal((await send(url('/proto?cors'), 'OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'PUT' })).status, 403);
    assert.equal((await signed(A, 'PUT', url('/proto?cors'), { body: cfg }).send()).status, 200);
    const pf = await send(url('/proto/anything'), 'OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type, x-amz-meta-a' });
    assert.equal(pf.status, 200);
    assert.equal(pf.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(pf.headers['access-control-allow-methods']), /PUT/);
    assert.equal(pf.headers['access-control-max-age'], '600');
    const denied = await send(url('/proto/anything'), 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'PUT' });
    assert.equal(denied.status, 403);
    const g = await signed(A, 'GET', url('/proto?cors')).send();
    assert.match(g.text, /<AllowedOrigin>https:\/\/app.example<\/AllowedOrigin>/);
    const real = await signed(A, 'GET', url('/proto/vhost.txt'), { headers: { origin: 'https://app.example' } }).send();
    assert.equal(real.headers['access-control-allow-origin'], 'https://app.example');
  });
});

describe('integrity and encryption', () => {
  test('a bit flipped on disk is detected: error, never wrong bytes', async () => {
    const data = randomBytes(300_000);
    await signed(A, 'PUT', url('/proto/flip'), { body: data }).send();
    const blobs = join(srv.dir, 'objects', 'blobs');
    let victim: string | undefined;
    for (const shard of readdirSync(blobs)) for (const f of readdirSync(join(blobs, shard))) {
      const p = join(blobs, shard, f);
      const b = readFileSync(p);
      if (b.length > data.length && b.subarray(0, 64).equals(data.subarray(0, 64))) victim = p;
    }
    assert.ok(victim, 'found the blob');
    const b = readFileSync(victim);
    b[200_000] ^= 0x01;
    writeFileSync(victim, b);
    const r = await signed(A, 'GET', url('/proto/flip')).send().catch((e) => ({ status: -1, body: Buffer.alloc(0), text: String(e), headers: {} }));
    assert.ok(r.status === 500 || r.status === -1 || !r.body.equals(data.subarray(0, r.body.length)) === false && r.body.length < data.length, `status ${r.status} len ${r.body.length}`);
    assert.ok(!(r.status === 200 && r.body.length === data.length), 'never a complete 200 with flipped bytes');
    const early = await signed(A, 'GET', url('/proto/flip'), { headers: { range: 'bytes=199990-200010' } }).send();
    assert.equal(early.status, 500);
    assert.equal(errorCode(early), 'InternalError');
    const fine = await signed(A, 'GET', url('/proto/flip'), { headers: { range: 'bytes=0-99' } }).send();
    assert.equal(fine.status, 206, 'untouched segments still read');
    assert.ok(fine.body.equals(data.subarray(0, 100)));
  });

  test('small objects live in their metadata row: no blob file, a flipped bit is an error, SSE bytes are not plaintext', async () => {
    const store = srv.svc.engine.ctx.store;
    const blobFiles = () => readdirSync(join(srv.dir, 'objects', 'blobs')).flatMap((s) => readdirSync(join(srv.dir, 'objects', 'blobs', s)));
    const before = blobFiles().length;
    const data = randomBytes(5000);
    assert.equal((await signed(A, 'PUT', url('/proto/inline'), { body: data }).send()).status, 200);
    const secret = Buffer.from('inline-secret-'.repeat(100));
    assert.equal((await signed(A, 'PUT', url('/proto/inline-sse'), { body: secret, headers: { 'x-amz-server-side-encryption': 'AES256' } }).send()).status, 200);
    assert.equal(blobFiles().length, before, 'no blob file for small objects');
    const sse = await store.get<{ inline_data: Buffer }>('SELECT inline_data FROM objects_versions WHERE bucket = ? AND key = ?', ['proto', 'inline-sse']);
    assert.ok(sse && !sse.inline_data.includes(Buffer.from('inline-secret-')), 'SSE-S3 inline bytes are ciphertext');
    const g = await signed(A, 'GET', url('/proto/inline-sse'), { headers: { range: 'bytes=14-27' } }).send();
    assert.equal(g.status, 206);
    assert.equal(g.text, 'inline-secret-');
    const row = await store.get<{ inline_data: Buffer }>('SELECT inline_data FROM objects_versions WHERE bucket = ? AND key = ?', ['proto', 'inline']);
    assert.ok(row && row.inline_data.length > data.length && row.inline_data.subarray(0, 64).equals(data.subarray(0, 64)));
    const flipped = Buffer.from(row.inline_data);
    flipped[3000] ^= 0x10;
    await store.run('UPDATE objects_versions SET inline_data = ? WHERE bucket = ? AND key = ?', [flipped, 'proto', 'inline']);
    for (const headers of [{}, { range: 'bytes=10-20' }] as Record<string, string>[]) {
      const r = await signed(A, 'GET', url('/proto/inline'), { headers }).send();
      assert.equal(r.status, 500);
      assert.equal(errorCode(r), 'InternalError');
    }
    const ok = await signed(A, 'PUT', url('/proto/inline'), { body: data }).send();
    assert.equal(ok.status, 200, 'overwrite replaces the damaged row');
    assert.ok((await signed(A, 'GET', url('/proto/inline')).send()).body.equals(data));
  });

  test('SSE-S3 round trip with ranges; bytes on disk are not plaintext', async () => {
    const data = Buffer.from('secret-'.repeat(40_000));
    const put = await signed(A, 'PUT', url('/proto/sse-s3'), { body: data, headers: { 'x-amz-server-side-encryption': 'AES256' } }).send();
    assert.equal(put.headers['x-amz-server-side-encryption'], 'AES256');
    const g = await signed(A, 'GET', url('/proto/sse-s3'), { headers: { range: 'bytes=70000-140001' } }).send();
    assert.equal(g.status, 206);
    assert.ok(g.body.equals(data.subarray(70000, 140002)));
    assert.equal(g.headers['x-amz-server-side-encryption'], 'AES256');
    const blobs = join(srv.dir, 'objects', 'blobs');
    for (const shard of readdirSync(blobs)) for (const f of readdirSync(join(blobs, shard))) assert.ok(!readFileSync(join(blobs, shard, f)).includes('secret-secret-'), 'plaintext on disk');
  });

  test('SSE-C: key required, MD5 checked, wrong key refused', async () => {
    const key = randomBytes(32);
    const hdr = (k: Buffer) => ({ 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': k.toString('base64'), 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(k).digest('base64') });
    const data = randomBytes(150_000);
    const put = await signed(A, 'PUT', url('/proto/sse-c'), { body: data, headers: hdr(key) }).send();
    assert.equal(put.status, 200, put.text);
    assert.equal((await signed(A, 'GET', url('/proto/sse-c')).send()).status, 400);
    const wrong = await signed(A, 'GET', url('/proto/sse-c'), { headers: hdr(randomBytes(32)) }).send();
    assert.equal(wrong.status, 403);
    const g = await signed(A, 'GET', url('/proto/sse-c'), { headers: { ...hdr(key), range: 'bytes=100000-' } }).send();
    assert.equal(g.status, 206);
    assert.ok(g.body.equals(data.subarray(100000)));
    const badMd5 = await signed(A, 'PUT', url('/proto/sse-c2'), { body: 'x', headers: { ...hdr(key), 'x-amz-server-side-encryption-customer-key-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }).send();
    assert.equal(errorCode(badMd5), 'InvalidArgument');
  });

  test('master key file is 0600', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(join(srv.dir, 'master.key')).mode & 0o777, 0o600);
  });
});

describe('quota and lifecycle', () => {
  test('bucket quota in bytes is enforced', async () => {
    await signed(A, 'PUT', url('/quota')).send();
    assert.equal((await signed(A, 'PUT', url('/quota?quota'), { body: '<BucketQuota><MaxBytes>1000</MaxBytes></BucketQuota>' }).send()).status, 200);
    assert.equal((await signed(A, 'PUT', url('/quota/a'), { body: Buffer.alloc(600) }).send()).status, 200);
    const over = await signed(A, 'PUT', url('/quota/b'), { body: Buffer.alloc(600) }).send();
    assert.equal(over.status, 403);
    assert.equal(errorCode(over), 'QuotaExceeded');
    assert.equal((await signed(A, 'PUT', url('/quota/a'), { body: Buffer.alloc(900) }).send()).status, 200, 'replacing frees the old bytes');
  });
});
