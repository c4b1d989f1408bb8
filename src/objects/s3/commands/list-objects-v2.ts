import { authorize, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { xmlDoc, type XNode } from '../xml.ts';
import { contentsXml, encoder, maxKeysParam } from './listing-common.ts';
import type { S3Command } from './types.ts';

const token = (s: string) => Buffer.from(`v1:${s}`, 'utf8').toString('base64url');
function untoken(t: string): string {
  const s = Buffer.from(t, 'base64url').toString('utf8');
  if (!s.startsWith('v1:') || token(s.slice(3)) !== t) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token', ArgumentValue: t });
  return s.slice(3);
}

export const ListObjectsV2: S3Command = {
  name: 'ListObjectsV2', method: 'GET', target: 'bucket', query: ['list-type'],
  async handle(c) {
    const b = await loadBucket(c);
    if (c.query.get('list-type') !== '2') throw new S3Error('InvalidArgument', 'Invalid List Type specified in Request', { ArgumentName: 'list-type', ArgumentValue: c.query.get('list-type') ?? '' });
    await authorize(c, 's3:ListBucket', b, { extra: { 's3:prefix': c.query.get('prefix') ?? '' } });
    const prefix = c.query.get('prefix') ?? '';
    const delimiter = c.query.get('delimiter') ?? '';
    const startAfter = c.query.get('start-after');
    const ct = c.query.get('continuation-token');
    const maxKeys = maxKeysParam(c);
    const enc = encoder(c);
    const fetchOwner = c.query.get('fetch-owner') === 'true';
    const after = ct !== undefined ? untoken(ct) : startAfter ?? '';
    const page = await c.engine.listing.listObjects(c.ec, { bucket: b.name, prefix, delimiter, after, maxKeys });
    const owner = fetchOwner ? { id: b.projectId, name: b.ownerName } : undefined;
    sendXml(c, 200, xmlDoc('ListBucketResult', [
      ['Name', b.name],
      ['Prefix', enc(prefix)],
      ct !== undefined ? ['ContinuationToken', ct] : undefined,
      page.isTruncated ? ['NextContinuationToken', token(page.next ?? '')] : undefined,
      ['KeyCount', page.contents.length + page.commonPrefixes.length],
      ['MaxKeys', maxKeys],
      delimiter ? ['Delimiter', enc(delimiter)] : undefined,
      ['IsTruncated', page.isTruncated],
      startAfter !== undefined ? ['StartAfter', enc(startAfter)] : undefined,
      c.query.has('encoding-type') ? ['EncodingType', 'url'] : undefined,
      ...page.contents.map((v) => contentsXml(v, enc, owner)),
      ...page.commonPrefixes.map((p) => ['CommonPrefixes', [['Prefix', enc(p)]]] as XNode),
    ]));
  },
};
