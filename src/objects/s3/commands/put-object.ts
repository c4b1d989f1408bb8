import { checksumHeader } from '../../engine/checksums.ts';
import { authorize, body, declaredSize, header, loadBucket, send } from '../context.ts';
import { S3Error } from '../errors.ts';
import { cannedAcl, checksumRequest, contentMd5, metaFromRequest, sseForWrite, sseResponseHeaders, tagsFromHeader } from './common.ts';
import { corsHeaders } from './bucket-cors.ts';
import type { S3Command } from './types.ts';

const GiB = 1024 ** 3;

export const PutObject: S3Command = {
  name: 'PutObject', method: 'PUT', target: 'object',
  async handle(c) {
    let b = await loadBucket(c, true);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    c.engine.objects.checkKey(c.key!);
    const size = declaredSize(c);
    if (size === undefined && header(c, 'transfer-encoding') === undefined) throw new S3Error('MissingContentLength');
    if (size !== undefined && size > 5 * GiB) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size), MaxSizeAllowed: String(5 * GiB) });
    const ifNone = header(c, 'if-none-match');
    if (ifNone !== undefined && ifNone.trim() !== '*') throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', { Header: 'If-None-Match' });
    const meta = metaFromRequest(c);
    const tags = tagsFromHeader(c);
    const acl = cannedAcl(c);
    const sse = sseForWrite(c, b);
    const ck = checksumRequest(c);
    const md5 = contentMd5(c);
    if (size !== undefined) {
      if (b.config.quotaBytes !== undefined) {
        // Early refusal before any byte is read (on fresh counters); commit re-checks exactly.
        b = await loadBucket(c);
        const quota = b.config.quotaBytes ?? Number.POSITIVE_INFINITY;
        const replaced = b.versioning === 'Enabled' ? 0 : await c.engine.objects.getVersion(c.ec, b.name, c.key!).then((v) => v.size, () => 0);
        if (b.bytes - replaced + size > quota) throw new S3Error('QuotaExceeded', `Bucket quota of ${quota} bytes would be exceeded`);
      }
      await c.identity.checkQuota(b.projectId, 'storage_gb', size / GiB);
    }
    const v = await c.engine.objects.putObject(c.ec, {
      bucket: b.name, key: c.key!, owner: c.principal ?? { accessKeyId: '', userId: 'anonymous', projectId: '', ownerDisplayName: 'anonymous' },
      body: body(c), meta, tags, acl, sse, expectedSize: size, contentMd5: md5,
      checksumAlgorithm: ck.algorithm, expectedChecksum: ck.expected,
      conds: { ifNoneMatchStar: ifNone !== undefined, ifMatch: header(c, 'if-match') },
    });
    c.identity.recordUsage?.(b.projectId, 'objects.put_bytes', v.size, { bucket: b.name });
    const h: Record<string, string> = { etag: v.etag, ...sseResponseHeaders(sse), ...corsHeaders(b, c) };
    if (v.versionId !== 'null' || b.versioning !== '') h['x-amz-version-id'] = v.versionId;
    if (v.meta.checksum) { h[checksumHeader(v.meta.checksum.algorithm)] = v.meta.checksum.value; h['x-amz-checksum-type'] = v.meta.checksum.type; }
    send(c, 200, h);
  },
};
