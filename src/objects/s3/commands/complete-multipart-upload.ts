import { authorize, header, loadBucket, readBody, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { asArray, parseXml, text, xmlDoc } from '../xml.ts';
import { checksumHeader } from '../../engine/checksums.ts';
import type { S3Command } from './types.ts';

export const CompleteMultipartUpload: S3Command = {
  name: 'CompleteMultipartUpload', method: 'POST', target: 'object', query: ['uploadId'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    const upload = await c.engine.multipart.getUpload(c.ec, b.name, c.key!, c.query.get('uploadId')!);
    const doc = parseXml(await readBody(c, 4 * 1024 * 1024), 'CompleteMultipartUpload');
    const algo = upload.meta.checksumAlgorithm;
    const parts = asArray(doc.Part as Record<string, unknown>[] | undefined).map((p) => {
      const n = text(p.PartNumber);
      const etag = text(p.ETag);
      if (!n || !/^\d+$/.test(n) || etag === undefined) throw new S3Error('MalformedXML');
      return { partNumber: Number(n), etag, checksum: algo ? text(p[`Checksum${algo}`]) : undefined };
    });
    const ifNone = header(c, 'if-none-match');
    const expected = algo ? header(c, checksumHeader(algo)) : undefined;
    const v = await c.engine.multipart.completeUpload(c.ec, upload, parts, { ifNoneMatchStar: ifNone?.trim() === '*', ifMatch: header(c, 'if-match') }, expected);
    const h: Record<string, string> = {};
    if (b.versioning !== '') h['x-amz-version-id'] = v.versionId;
    if (v.meta.sse === 'AES256') h['x-amz-server-side-encryption'] = 'AES256';
    const host = header(c, 'host') ?? 'localhost';
    sendXml(c, 200, xmlDoc('CompleteMultipartUploadResult', [
      ['Location', `http://${host}/${b.name}/${encodeURIComponent(c.key!).replace(/%2F/g, '/')}`],
      ['Bucket', b.name], ['Key', c.key], ['ETag', v.etag],
      v.meta.checksum ? [`Checksum${v.meta.checksum.algorithm}`, v.meta.checksum.value] : undefined,
      v.meta.checksum ? ['ChecksumType', v.meta.checksum.type] : undefined,
    ]), h);
  },
};
