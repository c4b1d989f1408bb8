import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAwsChunked } from './chunked.ts';
import { S3Error } from './errors.ts';
import { chunkSignature, sha256hex, signingKey } from './sigv4.ts';

async function collect(src: Buffer[], signing?: Parameters<typeof decodeAwsChunked>[1]) {
  const out = { trailers: new Map<string, string>() };
  const parts: Buffer[] = [];
  async function* gen() { for (const b of src) yield b; }
  for await (const b of decodeAwsChunked(gen(), signing, out)) parts.push(b);
  return { body: Buffer.concat(parts).toString(), trailers: out.trailers };
}

test('unsigned chunks with a trailer, split at awkward boundaries', async () => {
  const wire = Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
  const pieces = [];
  for (let i = 0; i < wire.length; i += 3) pieces.push(wire.subarray(i, i + 3));
  const r = await collect(pieces);
  assert.equal(r.body, 'hello world');
  assert.equal(r.trailers.get('x-amz-checksum-crc32'), 'DUoRhQ==');
});

test('signed chunks: the example from the S3 documentation verifies; a changed byte does not', async () => {
  // "Example computations" of the S3 API Reference (sigv4-streaming): 65 KiB of 'a', 1 KiB of 'a'.
  const key = signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3');
  const signing = { key, amzDate: '20130524T000000Z', scope: '20130524/us-east-1/s3/aws4_request', seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9' };
  const c1 = Buffer.alloc(65536, 'a');
  const c2 = Buffer.alloc(1024, 'a');
  const s1 = chunkSignature(key, signing.amzDate, signing.scope, signing.seedSignature, sha256hex(c1));
  assert.equal(s1, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648');
  const s2 = chunkSignature(key, signing.amzDate, signing.scope, s1, sha256hex(c2));
  assert.equal(s2, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497');
  const s3 = chunkSignature(key, signing.amzDate, signing.scope, s2, sha256hex(Buffer.alloc(0)));
  assert.equal(s3, 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9');
  const wire = [Buffer.from(`10000;chunk-signature=${s1}\r\n`), c1, Buffer.from(`\r\n400;chunk-signature=${s2}\r\n`), c2, Buffer.from(`\r\n0;chunk-signature=${s3}\r\n\r\n`)];
  assert.equal((await collect(wire, signing)).body.length, 66560);
  const bad = wire.map((b) => Buffer.from(b));
  bad[3]![10] = 0x62;
  await assert.rejects(collect(bad, signing), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
});

test('truncated input is IncompleteBody', async () => {
  await assert.rejects(collect([Buffer.from('a\r\nhel')]), (e: unknown) => e instanceof S3Error && e.code === 'IncompleteBody');
});
