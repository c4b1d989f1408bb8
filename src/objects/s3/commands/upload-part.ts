import { checksumHeader } from '../../engine/checksums.ts';
import { authorize, body, customerKey, declaredSize, header, loadBucket, send } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checksumRequest, contentMd5, sseResponseHeaders } from './common.ts';
import type { S3Command } from './types.ts';

export const UploadPart: S3Command = {
  name: 'UploadPart', method: 'PUT', target: 'object', query: ['partNumber', 'uploadId'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    const partNumber = c.engine.multipart.checkPartNumber(c.query.get('partNumber'));
    const upload = await c.engine.multipart.getUpload(c.ec, b.name, c.key!, c.query.get('uploadId')!);
    const size = declaredSize(c);
    if (size === undefined && header(c, 'transfer-encoding') === undefined) throw new S3Error('MissingContentLength');
    if (size !== undefined && b.config.quotaBytes !== undefined && b.bytes + size > b.config.quotaBytes) throw new S3Error('QuotaExceeded');
    const ck = checksumRequest(c);
    const sse = customerKey(c);
    const p = await c.engine.multipart.uploadPart(c.ec, {
      upload, partNumber, body: body(c), expectedSize: size, contentMd5: contentMd5(c), checksumAlgorithm: ck.algorithm, expectedChecksum: ck.expected, sse,
    });
    const h: Record<string, string> = { etag: p.etag };
    const algo = ck.algorithm ?? upload.meta.checksumAlgorithm;
    if (algo && p.checksum) h[checksumHeader(algo)] = p.checksum;
    Object.assign(h, sseResponseHeaders(upload.meta.sse === 'S3' ? { type: 'S3' } : sse));
    send(c, 200, h);
  },
};
