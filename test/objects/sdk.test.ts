/** Drives the server with @aws-sdk/client-s3 (current major, default checksum behaviour). */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetBucketLocationCommand, GetBucketVersioningCommand, GetObjectAttributesCommand,
  GetObjectCommand, GetObjectTaggingCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListMultipartUploadsCommand,
  ListObjectsCommand, ListObjectsV2Command, ListObjectVersionsCommand, ListPartsCommand, PutBucketVersioningCommand, PutObjectCommand,
  PutObjectTaggingCommand, S3Client, S3ServiceException, UploadPartCommand, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { KEY_A, KEY_B, startServer, type TestServer } from './helpers.ts';

let srv: TestServer;
let s3: S3Client;
let s3b: S3Client;
const client = (url: string, k: typeof KEY_A, forcePathStyle = true) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle, credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey } });

async function expectError(p: Promise<unknown>, name: string | undefined, status?: number) {
  try { await p; } catch (e) {
    assert.ok(e instanceof S3ServiceException, `expected S3ServiceException, got ${e}`);
    if (name !== undefined) assert.equal(e.name, name);
    if (status) assert.equal(e.$metadata.httpStatusCode, status);
    return e;
  }
  assert.fail(`expected ${name}`);
}
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

before(async () => { srv = await startServer(); s3 = client(srv.url, KEY_A); s3b = client(srv.url, KEY_B); });
after(async () => { s3.destroy(); s3b.destroy(); await srv.close(); });

describe('buckets', () => {
  test('create, head, list, location, duplicate, delete', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
    await s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));
    const l = await s3.send(new ListBucketsCommand({}));
    assert.deepEqual(l.Buckets?.map((b) => b.Name), ['alpha']);
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'alpha' }));
    assert.equal(loc.LocationConstraint ?? '', '');
    await expectError(s3.send(new CreateBucketCommand({ Bucket: 'alpha' })), 'BucketAlreadyOwnedByYou', 409);
    await expectError(s3b.send(new CreateBucketCommand({ Bucket: 'alpha' })), 'BucketAlreadyExists', 409);
    await expectError(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })), 'InvalidBucketName', 400);
    await s3.send(new PutObjectCommand({ Bucket: 'alpha', Key: 'x', Body: 'x' }));
    await expectError(s3.send(new DeleteBucketCommand({ Bucket: 'alpha' })), 'BucketNotEmpty', 409);
    await s3.send(new DeleteObjectCommand({ Bucket: 'alpha', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'alpha' }));
    await expectError(s3.send(new HeadBucketCommand({ Bucket: 'alpha' })), 'NotFound', 404);
  });

  test('another project gets AccessDenied on an existing bucket', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'private-a' }));
    await s3.send(new PutObjectCommand({ Bucket: 'private-a', Key: 'secret', Body: 'top' }));
    await expectError(s3b.send(new GetObjectCommand({ Bucket: 'private-a', Key: 'secret' })), 'AccessDenied', 403);
    await expectError(s3b.send(new ListObjectsV2Command({ Bucket: 'private-a' })), 'AccessDenied', 403);
    await expectError(s3b.send(new PutObjectCommand({ Bucket: 'private-a', Key: 'evil', Body: 'x' })), 'AccessDenied', 403);
    const lb = await s3b.send(new ListBucketsCommand({}));
    assert.equal(lb.Buckets?.length ?? 0, 0);
  });
});

describe('objects', () => {
  before(async () => { await s3.send(new CreateBucketCommand({ Bucket: 'objs' })); });

  test('put/get/head with metadata, content headers and default checksums', async () => {
    const body = randomBytes(100_000);
    const put = await s3.send(new PutObjectCommand({
      Bucket: 'objs', Key: 'dir/a.bin', Body: body, ContentType: 'application/x-test', Metadata: { color: 'blue' },
      ContentDisposition: 'attachment', CacheControl: 'no-cache', ContentLanguage: 'en', ContentEncoding: 'identity',
    }));
    assert.equal(put.ETag, `"${md5(body)}"`);
    const get = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'dir/a.bin', ChecksumMode: 'ENABLED' }));
    const got = Buffer.from(await get.Body!.transformToByteArray());
    assert.ok(got.equals(body));
    assert.equal(get.ContentType, 'application/x-test');
    assert.equal(get.Metadata?.color, 'blue');
    assert.equal(get.ContentDisposition, 'attachment');
    assert.equal(get.CacheControl, 'no-cache');
    assert.ok(get.ChecksumCRC32 || get.ChecksumCRC64NVME, 'SDK sent a default checksum that is stored and returned');
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'dir/a.bin' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'nope' })), 'NotFound', 404);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'nope' })), 'NoSuchKey', 404);
  });

  test('ranges and conditionals', async () => {
    const body = Buffer.from('0123456789abcdefghij');
    const put = await s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'r', Body: body }));
    const rng = async (Range: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', Range }))).Body!.transformToByteArray()).toString();
    assert.equal(await rng('bytes=0-3'), '0123');
    assert.equal(await rng('bytes=15-'), 'fghij');
    assert.equal(await rng('bytes=-4'), 'ghij');
    assert.equal(await rng('bytes=18-100'), 'ij');
    const r = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', Range: 'bytes=2-4' }));
    assert.equal(r.ContentRange, 'bytes 2-4/20');
    assert.equal(r.$metadata.httpStatusCode, 206);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', Range: 'bytes=20-' })), 'InvalidRange', 416);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', IfMatch: '"nope"' })), 'PreconditionFailed', 412);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', IfNoneMatch: put.ETag })), undefined, 304);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', IfModifiedSince: new Date(Date.now() + 60_000) })), undefined, 304);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', IfUnmodifiedSince: new Date(Date.now() - 3600_000) })), 'PreconditionFailed', 412);
    const ok = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key: 'r', IfMatch: put.ETag, ResponseContentType: 'text/x-override', ResponseContentDisposition: 'inline' }));
    assert.equal(ok.ContentType, 'text/x-override');
    assert.equal(ok.ContentDisposition, 'inline');
    await ok.Body!.transformToByteArray();
  });

  test('keys that look like paths round-trip byte-exact; 1025-byte key rejected', async () => {
    const keys = ['../escape', '//double//slash', '/leading', 'caf\u00e9', 'cafe\u0301', 'sp ace+plus%pct', `${'k'.repeat(1024)}`, 'emoji/😀', 'a?b#c'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'objs', Key, Body: Key }));
    for (const Key of keys) {
      const g = await s3.send(new GetObjectCommand({ Bucket: 'objs', Key }));
      assert.equal(await g.Body!.transformToString(), Key);
    }
    const listed = new Set<string>();
    let token: string | undefined;
    do {
      const l = await s3.send(new ListObjectsV2Command({ Bucket: 'objs', ContinuationToken: token, MaxKeys: 3 }));
      for (const o of l.Contents ?? []) listed.add(o.Key!);
      token = l.NextContinuationToken;
    } while (token);
    for (const k of keys) assert.ok(listed.has(k), `listed ${JSON.stringify(k)}`);
    await expectError(s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'k'.repeat(1025), Body: 'x' })), 'KeyTooLongError', 400);
  });

  test('copy (COPY/REPLACE), tagging, attributes, delete objects', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'src', Body: 'copy me', Metadata: { a: '1' }, Tagging: 'k1=v1' }));
    const c1 = await s3.send(new CopyObjectCommand({ Bucket: 'objs', Key: 'dst', CopySource: 'objs/src' }));
    assert.equal(c1.CopyObjectResult?.ETag, `"${md5(Buffer.from('copy me'))}"`);
    const h1 = await s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'dst' }));
    assert.equal(h1.Metadata?.a, '1');
    await s3.send(new CopyObjectCommand({ Bucket: 'objs', Key: 'dst2', CopySource: 'objs/src', MetadataDirective: 'REPLACE', Metadata: { b: '2' } }));
    const h2 = await s3.send(new HeadObjectCommand({ Bucket: 'objs', Key: 'dst2' }));
    assert.deepEqual(h2.Metadata, { b: '2' });
    await expectError(s3.send(new CopyObjectCommand({ Bucket: 'objs', Key: 'src', CopySource: 'objs/src' })), 'InvalidRequest', 400);
    await expectError(s3.send(new CopyObjectCommand({ Bucket: 'objs', Key: 'dst3', CopySource: 'objs/src', CopySourceIfMatch: '"zzz"' })), 'PreconditionFailed', 412);
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: 'objs', Key: 'src' }));
    assert.deepEqual(tags.TagSet, [{ Key: 'k1', Value: 'v1' }]);
    await s3.send(new PutObjectTaggingCommand({ Bucket: 'objs', Key: 'src', Tagging: { TagSet: [{ Key: 'x', Value: 'y' }] } }));
    assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: 'objs', Key: 'src' }))).TagSet, [{ Key: 'x', Value: 'y' }]);
    const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket: 'objs', Key: 'src', ObjectAttributes: ['ETag', 'ObjectSize', 'StorageClass'] }));
    assert.equal(attrs.ObjectSize, 7);
    assert.equal(attrs.ETag, md5(Buffer.from('copy me')));
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: 'objs', Delete: { Objects: [{ Key: 'dst' }, { Key: 'dst2' }, { Key: 'never-was' }] } }));
    assert.deepEqual(del.Deleted?.map((d) => d.Key).sort(), ['dst', 'dst2', 'never-was']);
    const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: 'objs', Delete: { Quiet: true, Objects: [{ Key: 'src' }] } }));
    assert.equal(quiet.Deleted?.length ?? 0, 0);
  });

  test('conditional create: exactly one of N concurrent creators wins', async () => {
    const N = 16;
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'objs', Key: 'once', Body: `writer-${i}`, IfNoneMatch: '*' }))));
    const wins = results.filter((r) => r.status === 'fulfilled');
    assert.equal(wins.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as S3ServiceException).name, 'PreconditionFailed');
  });
});

describe('listing', () => {
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'list' }));
    const keys = ['a', 'b/1', 'b/2', 'b/3/x', 'c', 'd/1', 'e', '\u00ff', '\ud83d\ude00', '\uffff'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'list', Key, Body: Key }));
  });

  test('v2 orders by UTF-8 bytes and pages exactly', async () => {
    const all = await s3.send(new ListObjectsV2Command({ Bucket: 'list' }));
    assert.deepEqual(all.Contents?.map((c) => c.Key), ['a', 'b/1', 'b/2', 'b/3/x', 'c', 'd/1', 'e', '\u00ff', '\uffff', '\ud83d\ude00']);
    for (const max of [1, 2, 3, 4, 7]) {
      const seen: string[] = [];
      let token: string | undefined;
      for (;;) {
        const p = await s3.send(new ListObjectsV2Command({ Bucket: 'list', Delimiter: '/', MaxKeys: max, ContinuationToken: token }));
        assert.ok((p.KeyCount ?? 0) <= max);
        const pageKeys = [...(p.Contents ?? []).map((c) => c.Key!), ...(p.CommonPrefixes ?? []).map((c) => c.Prefix!)];
        seen.push(...pageKeys.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
        if (!p.IsTruncated) break;
        token = p.NextContinuationToken;
      }
      assert.deepEqual(seen, ['a', 'b/', 'c', 'd/', 'e', '\u00ff', '\uffff', '\ud83d\ude00'], `max-keys ${max}`);
    }
    const sub = await s3.send(new ListObjectsV2Command({ Bucket: 'list', Prefix: 'b/', Delimiter: '/', StartAfter: 'b/1' }));
    assert.deepEqual(sub.Contents?.map((c) => c.Key), ['b/2']);
    assert.deepEqual(sub.CommonPrefixes?.map((c) => c.Prefix), ['b/3/']);
    const enc = await s3.send(new ListObjectsV2Command({ Bucket: 'list', Prefix: '\u00ff', EncodingType: 'url', FetchOwner: true }));
    assert.equal(enc.Contents?.[0]?.Key, '%C3%BF', 'SDK v3 leaves url encoding to the caller');
    assert.ok(enc.Contents?.[0]?.Owner?.ID);
  });

  test('v1 markers', async () => {
    const p1 = await s3.send(new ListObjectsCommand({ Bucket: 'list', Delimiter: '/', MaxKeys: 2 }));
    assert.equal(p1.IsTruncated, true);
    assert.equal(p1.NextMarker, 'b/');
    const p2 = await s3.send(new ListObjectsCommand({ Bucket: 'list', Delimiter: '/', MaxKeys: 2, Marker: p1.NextMarker }));
    assert.deepEqual([...(p2.Contents ?? []).map((c) => c.Key), ...(p2.CommonPrefixes ?? []).map((c) => c.Prefix)].sort(), ['c', 'd/']);
  });
});

describe('multipart', () => {
  before(async () => { await s3.send(new CreateBucketCommand({ Bucket: 'mpu' })); });

  test('create, upload, copy part, list, complete; errors', async () => {
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(1234);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'big', ContentType: 'x/y' }));
    const u1 = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'big', UploadId, PartNumber: 1, Body: p1 }));
    await s3.send(new PutObjectCommand({ Bucket: 'mpu', Key: 'copysrc', Body: Buffer.concat([Buffer.from('zz'), p2]) }));
    const u2 = await s3.send(new UploadPartCopyCommand({ Bucket: 'mpu', Key: 'big', UploadId, PartNumber: 2, CopySource: 'mpu/copysrc', CopySourceRange: `bytes=2-${p2.length + 1}` }));
    const lp = await s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'big', UploadId }));
    assert.deepEqual(lp.Parts?.map((p) => p.PartNumber), [1, 2]);
    const lu = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'mpu' }));
    assert.equal(lu.Uploads?.[0]?.UploadId, UploadId);
    await expectError(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: u2.CopyPartResult?.ETag }, { PartNumber: 1, ETag: u1.ETag }] } })), 'InvalidPartOrder', 400);
    await expectError(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] } })), 'InvalidPart', 400);
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: u1.ETag }, { PartNumber: 2, ETag: u2.CopyPartResult?.ETag }] } }));
    const expectEtag = createHash('md5').update(Buffer.concat([createHash('md5').update(p1).digest(), createHash('md5').update(p2).digest()])).digest('hex');
    assert.equal(done.ETag, `"${expectEtag}-2"`);
    const g = await s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'big' }));
    assert.ok(Buffer.from(await g.Body!.transformToByteArray()).equals(Buffer.concat([p1, p2])));
    assert.equal(g.ContentType, 'x/y');
    const part2 = await s3.send(new GetObjectCommand({ Bucket: 'mpu', Key: 'big', PartNumber: 2 }));
    assert.equal(part2.PartsCount, 2);
    assert.ok(Buffer.from(await part2.Body!.transformToByteArray()).equals(p2));
    await expectError(s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'big', UploadId })), 'NoSuchUpload', 404);
  });

  test('EntityTooSmall and abort', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'small' }));
    const a = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'small', UploadId, PartNumber: 1, Body: 'tiny' }));
    const b = await s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'small', UploadId, PartNumber: 2, Body: 'tiny' }));
    await expectError(s3.send(new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key: 'small', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 2, ETag: b.ETag }] } })), 'EntityTooSmall', 400);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'small', UploadId }));
    await expectError(s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'small', UploadId })), 'NoSuchUpload', 404);
    await expectError(s3.send(new UploadPartCommand({ Bucket: 'mpu', Key: 'small', UploadId, PartNumber: 10001, Body: 'x' })), 'InvalidArgument', 400);
  });
});

describe('versioning', () => {
  test('versions, delete markers, get by version, suspended null versions', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'ver' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'ver', VersioningConfiguration: { Status: 'Enabled' } }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: 'ver' }))).Status, 'Enabled');
    const v1 = await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'k', Body: 'one' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'k', Body: 'two' }));
    assert.ok(v1.VersionId && v2.VersionId && v1.VersionId !== v2.VersionId);
    const d = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'k' }));
    assert.equal(d.DeleteMarker, true);
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'k' })), 'NoSuchKey', 404);
    const old = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'k', VersionId: v1.VersionId }));
    assert.equal(await old.Body!.transformToString(), 'one');
    await expectError(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'k', VersionId: d.VersionId })), 'MethodNotAllowed', 405);
    const lv = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ver' }));
    assert.deepEqual(lv.Versions?.map((v) => v.VersionId), [v2.VersionId, v1.VersionId]);
    assert.equal(lv.DeleteMarkers?.[0]?.VersionId, d.VersionId);
    assert.equal(lv.DeleteMarkers?.[0]?.IsLatest, true);
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ver', MaxKeys: 1 }));
    assert.equal(page.IsTruncated, true);
    const page2 = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ver', MaxKeys: 1, KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker }));
    assert.equal(page2.Versions?.[0]?.VersionId, v2.VersionId);
    // Removing the delete marker restores the object.
    await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'k', VersionId: d.VersionId }));
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'k' }))).Body!.transformToString(), 'two');
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'ver', VersioningConfiguration: { Status: 'Suspended' } }));
    const n1 = await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'k', Body: 'null-1' }));
    assert.equal(n1.VersionId, 'null');
    await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'k', Body: 'null-2' }));
    const lv2 = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ver' }));
    assert.deepEqual(lv2.Versions?.map((v) => v.VersionId), ['null', v2.VersionId, v1.VersionId]);
  });
});
