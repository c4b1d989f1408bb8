import { authorize, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate, xmlDoc, type XNode } from '../xml.ts';
import { ownerXml } from './common.ts';
import { maxKeysParam } from './listing-common.ts';
import type { S3Command } from './types.ts';

export const ListParts: S3Command = {
  name: 'ListParts', method: 'GET', target: 'object', query: ['uploadId'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:ListMultipartUploadParts', b, { key: c.key });
    const upload = await c.engine.multipart.getUpload(c.ec, b.name, c.key!, c.query.get('uploadId')!);
    const markerS = c.query.get('part-number-marker') ?? '0';
    if (!/^\d+$/.test(markerS)) throw new S3Error('InvalidArgument', 'Provided part-number-marker not an integer or within integer range', { ArgumentName: 'part-number-marker', ArgumentValue: markerS });
    const marker = Number(markerS);
    const max = maxKeysParam(c, 'max-parts');
    const r = await c.engine.multipart.listParts(c.ec, upload.uploadId, marker, max);
    const algo = upload.meta.checksumAlgorithm;
    sendXml(c, 200, xmlDoc('ListPartsResult', [
      ['Bucket', b.name], ['Key', c.key], ['UploadId', upload.uploadId],
      ['PartNumberMarker', marker],
      ['NextPartNumberMarker', r.parts.length ? r.parts[r.parts.length - 1]!.partNumber : marker],
      ['MaxParts', max], ['IsTruncated', r.isTruncated],
      ...r.parts.map((p) => ['Part', [
        ['PartNumber', p.partNumber], ['LastModified', isoDate(p.mtimeMs)], ['ETag', p.etag], ['Size', p.size],
        algo && p.checksum ? [`Checksum${algo}`, p.checksum] : undefined,
      ]] as XNode),
      ['Initiator', [['ID', upload.ownerId], ['DisplayName', upload.ownerId]]],
      ownerXml(b.projectId, b.ownerName),
      ['StorageClass', upload.meta.meta.storageClass ?? 'STANDARD'],
      algo ? ['ChecksumAlgorithm', algo] : undefined,
      algo ? ['ChecksumType', upload.meta.checksumType ?? 'COMPOSITE'] : undefined,
    ]));
  },
};
