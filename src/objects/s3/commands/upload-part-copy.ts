import { authorize, customerKey, header, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate, xmlDoc } from '../xml.ts';
import { resolveCopySource } from './copy-object.ts';
import type { S3Command } from './types.ts';

export const UploadPartCopy: S3Command = {
  name: 'UploadPartCopy', method: 'PUT', target: 'object', query: ['partNumber', 'uploadId'], header: 'x-amz-copy-source',
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    const partNumber = c.engine.multipart.checkPartNumber(c.query.get('partNumber'));
    const upload = await c.engine.multipart.getUpload(c.ec, b.name, c.key!, c.query.get('uploadId')!);
    const src = await resolveCopySource(c);
    const sv = src.version;
    let start = 0;
    let end = sv.size - 1;
    const range = header(c, 'x-amz-copy-source-range');
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
      if (!m) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: range });
      start = Number(m[1]);
      end = Number(m[2]);
      if (start > end || end >= sv.size) throw new S3Error('InvalidRange', undefined, { RangeRequested: range, ActualObjectSize: String(sv.size) });
    }
    const srcKey = customerKey(c, 'x-amz-copy-source-server-side-encryption-customer-');
    c.engine.objects.checkSseAccess(c.ec, sv, srcKey);
    const len = sv.size === 0 ? 0 : end - start + 1;
    const p = await c.engine.multipart.uploadPart(c.ec, {
      upload, partNumber, body: c.engine.objects.readObject(c.ec, sv, start, start + len, srcKey), expectedSize: len, sse: customerKey(c),
    });
    const h: Record<string, string> = {};
    if (src.bucket.versioning !== '') h['x-amz-copy-source-version-id'] = sv.versionId;
    sendXml(c, 200, xmlDoc('CopyPartResult', [['ETag', p.etag], ['LastModified', isoDate(p.mtimeMs)]]), h);
  },
};
