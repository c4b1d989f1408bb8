import { allowed, authorize, loadBucket, sendXml } from '../context.ts';
import { xmlDoc, type XNode } from '../xml.ts';
import { contentsXml, encoder, maxKeysParam } from './listing-common.ts';
import type { S3Command } from './types.ts';

export const ListObjects: S3Command = {
  name: 'ListObjects', method: 'GET', target: 'bucket',
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:ListBucket', b, { extra: { 's3:prefix': c.query.get('prefix') ?? '' } });
    void allowed;
    const prefix = c.query.get('prefix') ?? '';
    const delimiter = c.query.get('delimiter') ?? '';
    const marker = c.query.get('marker') ?? '';
    const maxKeys = maxKeysParam(c);
    const enc = encoder(c);
    const page = await c.engine.listing.listObjects(c.ec, { bucket: b.name, prefix, delimiter, after: marker, maxKeys });
    const owner = { id: b.projectId, name: b.ownerName };
    sendXml(c, 200, xmlDoc('ListBucketResult', [
      ['Name', b.name],
      ['Prefix', enc(prefix)],
      ['Marker', enc(marker)],
      page.isTruncated && delimiter ? ['NextMarker', enc(page.next ?? '')] : undefined,
      ['MaxKeys', maxKeys],
      delimiter ? ['Delimiter', enc(delimiter)] : undefined,
      ['IsTruncated', page.isTruncated],
      c.query.has('encoding-type') ? ['EncodingType', 'url'] : undefined,
      ...page.contents.map((v) => contentsXml(v, enc, owner)),
      ...page.commonPrefixes.map((p) => ['CommonPrefixes', [['Prefix', enc(p)]]] as XNode),
    ]));
  },
};
