import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  amzDate, canonicalRequest, type HeaderMap, parseQuery, presignUrl, scopeOf, signHex, signingKey, signRequest, stringToSign, uriEncode,
} from './sigv4.ts';

// The official vectors live in shared/ beside the repository (CI lays a copy there too).
const SUITE = process.env.SIGV4_SUITE
  ?? [join(import.meta.dirname, '../../../../shared/data/aws-sigv4-test-suite/v4'), '/work/shared/data/aws-sigv4-test-suite/v4'].find((p) => existsSync(p))
  ?? join(import.meta.dirname, '../../../../shared/data/aws-sigv4-test-suite/v4');

interface Parsed { method: string; rawPath: string; rawQuery: string; headers: [string, string][]; body: string }

function parseRequest(txt: string): Parsed {
  const sep = txt.indexOf('\n\n');
  const head = sep < 0 ? txt : txt.slice(0, sep);
  const body = sep < 0 ? '' : txt.slice(sep + 2);
  const lines = head.split('\n');
  const first = lines.shift()!;
  const m = /^(\S+) (.*) HTTP\/1\.1$/.exec(first)!;
  const target = m[2]!;
  const q = target.indexOf('?');
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (line === "") continue;
    if (/^\s/.test(line) && headers.length) headers[headers.length - 1]![1] += `\n${line}`;
    else { const c = line.indexOf(':'); headers.push([line.slice(0, c), line.slice(c + 1)]); }
  }
  return { method: m[1]!, rawPath: q < 0 ? target : target.slice(0, q), rawQuery: q < 0 ? '' : target.slice(q + 1), headers, body };
}

const cases = existsSync(SUITE) ? readdirSync(SUITE).filter((d) => existsSync(join(SUITE, d, 'context.json'))) : [];

test('the official SigV4 vectors are present', (t) => {
  if (cases.length === 0) { if (process.env.CI === 'true') assert.fail(`missing ${SUITE}`); t.skip(`missing ${SUITE}`); return; }
  assert.equal(cases.length, 38);
});

for (const name of cases) {
  test(`sigv4 vector ${name}`, () => {
    const dir = join(SUITE, name);
    const ctx = JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8'));
    const req = parseRequest(readFileSync(join(dir, 'request.txt'), 'utf8'));
    const ad = amzDate(new Date(ctx.timestamp));
    const scope = scopeOf(ad.slice(0, 8), ctx.region, ctx.service);
    const key = signingKey(ctx.credentials.secret_access_key, ad.slice(0, 8), ctx.region, ctx.service);
    const token: string | undefined = ctx.credentials.token;
    const omitToken = ctx.omit_session_token === true;
    const payloadHash = (() => { const h = require256(req.body); return h; })();

    // Header signing.
    const headers: HeaderMap = new Map();
    for (const [k, v] of req.headers) { const l = k.toLowerCase(); headers.set(l, [...(headers.get(l) ?? []), v]); }
    headers.set('x-amz-date', [ad]);
    if (ctx.sign_body) headers.set('x-amz-content-sha256', [payloadHash]);
    if (token && !omitToken) headers.set('x-amz-security-token', [token]);
    const signed = [...headers.keys()].sort();
    const creq = canonicalRequest({ method: req.method, rawPath: req.rawPath, query: parseQuery(req.rawQuery), headers, signedHeaders: signed, payloadHash, normalize: ctx.normalize });
    assert.equal(creq, readFileSync(join(dir, 'header-canonical-request.txt'), 'utf8'));
    const sts = stringToSign(ad, scope, creq);
    assert.equal(sts, readFileSync(join(dir, 'header-string-to-sign.txt'), 'utf8'));
    assert.equal(signHex(key, sts), readFileSync(join(dir, 'header-signature.txt'), 'utf8').trim());

    // Query (presigned) signing.
    if (existsSync(join(dir, 'query-canonical-request.txt'))) {
      const qh: HeaderMap = new Map();
      for (const [k, v] of req.headers) { const l = k.toLowerCase(); qh.set(l, [...(qh.get(l) ?? []), v]); }
      const qsigned = [...qh.keys()].sort();
      const pairs: [string, string][] = [...parseQuery(req.rawQuery),
        ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'], ['X-Amz-Credential', `${ctx.credentials.access_key_id}/${scope}`],
        ['X-Amz-Date', ad], ['X-Amz-Expires', String(ctx.expiration_in_seconds)], ['X-Amz-SignedHeaders', qsigned.join(';')]];
      if (token && !omitToken) pairs.push(['X-Amz-Security-Token', token]);
      const qcreq = canonicalRequest({ method: req.method, rawPath: req.rawPath, query: pairs, headers: qh, signedHeaders: qsigned, payloadHash: ctx.sign_body ? payloadHash : 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', normalize: ctx.normalize });
      assert.equal(qcreq, readFileSync(join(dir, 'query-canonical-request.txt'), 'utf8'));
      const qsts = stringToSign(ad, scope, qcreq);
      assert.equal(qsts, readFileSync(join(dir, 'query-string-to-sign.txt'), 'utf8'));
      assert.equal(signHex(key, qsts), readFileSync(join(dir, 'query-signature.txt'), 'utf8').trim());
    }
  });
}

import { createHash } from 'node:crypto';
function require256(s: string) { return createHash('sha256').update(s).digest('hex'); }

test('signRequest reproduces the AWS documentation S3 GET example', () => {
  // From the Amazon S3 API Reference, "Example: GET Object" (sig-v4-header-based-auth).
  const r = signRequest({
    method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/test.txt', headers: { range: 'bytes=0-9' },
    payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    date: new Date('2013-05-24T00:00:00Z'),
  });
  assert.equal(r.signature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
});

test('presignUrl reproduces the AWS documentation presigned URL example', () => {
  const u = presignUrl({
    method: 'GET', url: 'https://examplebucket.s3.amazonaws.com/test.txt', region: 'us-east-1', expiresIn: 86400,
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    date: new Date('2013-05-24T00:00:00Z'),
  });
  assert.match(u, /X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404$/);
});

test('uriEncode keeps unreserved and encodes UTF-8 bytes', () => {
  assert.equal(uriEncode('a b/ሴ~', true), 'a%20b/%E1%88%B4~');
  assert.equal(uriEncode('a/b', false), 'a%2Fb');
});
