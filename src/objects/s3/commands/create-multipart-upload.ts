import { parseAlgorithm } from '../../engine/checksums.ts';
import { authorize, header, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { xmlDoc } from '../xml.ts';
import { cannedAcl, metaFromRequest, sseForWrite, sseResponseHeaders, tagsFromHeader } from './common.ts';
import type { S3Command } from './types.ts';

export const CreateMultipartUpload: S3Command = {
  name: 'CreateMultipartUpload', method: 'POST', target: 'object', query: ['uploads'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutObject', b, { key: c.key });
    const sse = sseForWrite(c, b);
    const algoH = header(c, 'x-amz-checksum-algorithm');
    const algo = parseAlgorithm(algoH);
    if (algoH && !algo) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
    const typeH = header(c, 'x-amz-checksum-type');
    if (typeH && typeH !== 'COMPOSITE' && typeH !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
    const u = await c.engine.multipart.createUpload(c.ec, b.name, c.key!, c.principal!, {
      meta: metaFromRequest(c), tags: tagsFromHeader(c) ?? [], acl: cannedAcl(c) ?? 'private',
      sse: sse?.type, sseCustomerKeyMd5: sse?.type === 'C' ? sse.keyMd5 : undefined,
      checksumAlgorithm: algo, checksumType: typeH as 'COMPOSITE' | 'FULL_OBJECT' | undefined,
    });
    const h: Record<string, string> = { ...sseResponseHeaders(sse) };
    if (algo) { h['x-amz-checksum-algorithm'] = algo; h['x-amz-checksum-type'] = typeH ?? 'COMPOSITE'; }
    sendXml(c, 200, xmlDoc('InitiateMultipartUploadResult', [['Bucket', b.name], ['Key', c.key], ['UploadId', u.uploadId]]), h);
  },
};
