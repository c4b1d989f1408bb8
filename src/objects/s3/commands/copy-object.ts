/** CopyObject and the copy-source parsing/conditions shared with UploadPartCopy. */
import type { Bucket, ObjectVersion } from '../../engine/types.ts';
import { authorize, customerKey, header, loadBucket, sendXml, type S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { safeDecode } from '../sigv4.ts';
import { isoDate, xmlDoc } from '../xml.ts';
import { cannedAcl, checkConditions, metaFromRequest, sseForWrite, sseResponseHeaders, tagsFromHeader } from './common.ts';
import { parseAlgorithm } from '../../engine/checksums.ts';
import type { S3Command } from './types.ts';

export interface CopySource { bucket: Bucket; version: ObjectVersion; versionIdGiven: boolean }

export async function resolveCopySource(c: S3Ctx): Promise<CopySource> {
  const raw = header(c, 'x-amz-copy-source')!;
  const q = raw.indexOf('?');
  const path = safeDecode(q < 0 ? raw : raw.slice(0, q)).replace(/^\//, '');
  let vid: string | undefined;
  if (q >= 0) {
    const m = /(?:^|&)versionId=([^&]*)/.exec(raw.slice(q + 1));
    if (!m) throw new S3Error('InvalidArgument', 'Invalid copy source', { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw });
    vid = safeDecode(m[1]!);
  }
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw });
  const bucketName = path.slice(0, slash);
  const key = path.slice(slash + 1);
  const sb = await c.engine.buckets.getBucket(c.ec, bucketName);
  if (!sb) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucketName });
  await authorize(c, vid ? 's3:GetObjectVersion' : 's3:GetObject', sb, { key });
  let v: ObjectVersion;
  try {
    v = await c.engine.objects.getVersion(c.ec, bucketName, key, vid);
  } catch (e) {
    if (e instanceof S3Error && e.code === 'MethodNotAllowed') throw new S3Error('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.');
    throw e;
  }
  if (checkConditions(c, v.etag, v.mtimeMs, 'x-amz-copy-source-') === 'not-modified') throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-None-Match' });
  return { bucket: sb, version: v, versionIdGiven: vid !== undefined };
}

export const CopyObject: S3Command = {
  name: 'CopyObject', method: 'PUT', target: 'object', header: 'x-amz-copy-source',
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    c.engine.objects.checkKey(c.key!);
    const src = await resolveCopySource(c);
    const directive = header(c, 'x-amz-metadata-directive') ?? 'COPY';
    const tagDirective = header(c, 'x-amz-tagging-directive') ?? 'COPY';
    if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
    if (tagDirective !== 'COPY' && tagDirective !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown tagging directive.', { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: tagDirective });
    const sse = sseForWrite(c, b);
    const srcKey = customerKey(c, 'x-amz-copy-source-server-side-encryption-customer-');
    const sv = src.version;
    const sameObject = src.bucket.name === b.name && sv.key === c.key && !src.versionIdGiven;
    if (sameObject && directive === 'COPY' && !sse && !header(c, 'x-amz-storage-class') && !header(c, 'x-amz-website-redirect-location')) {
      throw new S3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
    }
    const meta = directive === 'REPLACE' ? metaFromRequest(c) : { ...sv.meta, user: { ...sv.meta.user } };
    delete meta.parts; delete meta.checksum; delete meta.sse; delete meta.sseCustomerKeyMd5;
    const tags = tagDirective === 'REPLACE' ? tagsFromHeader(c) ?? [] : sv.tags;
    c.engine.objects.checkSseAccess(c.ec, sv, srcKey);
    const algo = parseAlgorithm(header(c, 'x-amz-checksum-algorithm')) ?? sv.meta.checksum?.algorithm;
    const v = await c.engine.objects.putObject(c.ec, {
      bucket: b.name, key: c.key!, owner: c.principal!, body: c.engine.objects.readObject(c.ec, sv, 0, sv.size, srcKey), meta, tags,
      acl: cannedAcl(c), sse, expectedSize: sv.size, checksumAlgorithm: algo,
    });
    const h: Record<string, string> = { ...sseResponseHeaders(sse) };
    if (b.versioning !== '') h['x-amz-version-id'] = v.versionId;
    if (src.bucket.versioning !== '') h['x-amz-copy-source-version-id'] = sv.versionId;
    sendXml(c, 200, xmlDoc('CopyObjectResult', [
      ['ETag', v.etag], ['LastModified', isoDate(v.mtimeMs)],
      v.meta.checksum ? ['ChecksumType', v.meta.checksum.type] : undefined,
      v.meta.checksum ? [`Checksum${v.meta.checksum.algorithm}`, v.meta.checksum.value] : undefined,
    ]), h);
  },
};
