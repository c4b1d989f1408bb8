import { authorize, customerKey, header, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate, xmlDoc, type XNode } from '../xml.ts';
import { httpDate, versionIdParam } from './common.ts';
import type { S3Command } from './types.ts';

const ATTRS = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

export const GetObjectAttributes: S3Command = {
  name: 'GetObjectAttributes', method: 'GET', target: 'object', query: ['attributes'],
  async handle(c) {
    const b = await loadBucket(c);
    const vid = versionIdParam(c);
    await authorize(c, vid ? 's3:GetObjectVersionAttributes' : 's3:GetObjectAttributes', b, { key: c.key });
    const want = (header(c, 'x-amz-object-attributes') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (want.length === 0 || want.some((a) => !ATTRS.includes(a))) throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { ArgumentName: 'x-amz-object-attributes', ArgumentValue: want.join(',') });
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, vid);
    c.engine.objects.checkSseAccess(c.ec, v, customerKey(c));
    const maxParts = Number(header(c, 'x-amz-max-parts') ?? 1000);
    const marker = Number(header(c, 'x-amz-part-number-marker') ?? 0);
    const children: XNode[] = [];
    if (want.includes('ETag')) children.push(['ETag', v.etag.replace(/"/g, '')]);
    if (want.includes('Checksum') && v.meta.checksum) {
      const ck = v.meta.checksum;
      children.push(['Checksum', [[`Checksum${ck.algorithm}`, ck.value], ['ChecksumType', ck.type]]]);
    }
    if (want.includes('ObjectParts') && v.meta.parts) {
      const parts = v.meta.parts.map((p, i) => ({ ...p, n: i + 1 })).filter((p) => p.n > marker);
      const page = parts.slice(0, maxParts);
      children.push(['ObjectParts', [
        ['TotalPartsCount', v.meta.parts.length], ['PartNumberMarker', marker],
        ['NextPartNumberMarker', page.length ? page[page.length - 1]!.n : marker], ['MaxParts', maxParts], ['IsTruncated', parts.length > page.length],
        ...page.map((p) => ['Part', [
          p.checksum && v.meta.checksum ? [`Checksum${v.meta.checksum.algorithm}`, p.checksum] : undefined,
          ['PartNumber', p.n], ['Size', p.size],
        ]] as XNode),
      ]]);
    }
    if (want.includes('StorageClass')) children.push(['StorageClass', v.meta.storageClass ?? 'STANDARD']);
    if (want.includes('ObjectSize')) children.push(['ObjectSize', v.size]);
    const h: Record<string, string> = { 'last-modified': httpDate(v.mtimeMs) };
    if (b.versioning !== '') h['x-amz-version-id'] = v.versionId;
    void isoDate;
    sendXml(c, 200, xmlDoc('GetObjectAttributesResponse', children), h);
  },
};
