import { authorize, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate, xmlDoc, type XNode } from '../xml.ts';
import { ownerXml } from './common.ts';
import type { S3Command } from './types.ts';

export const ListBuckets: S3Command = {
  name: 'ListBuckets', method: 'GET', target: 'service',
  async handle(c) {
    if (!c.principal) throw new S3Error('AccessDenied');
    await authorize(c, 's3:ListAllMyBuckets', undefined);
    const all = await c.engine.buckets.listBuckets(c.ec, c.principal.projectId);
    const prefix = c.query.get('prefix') ?? '';
    const list = all.filter((b) => b.name.startsWith(prefix));
    sendXml(c, 200, xmlDoc('ListAllMyBucketsResult', [
      ['Buckets', list.map((b) => ['Bucket', [['Name', b.name], ['CreationDate', isoDate(b.createdMs)], ['BucketRegion', b.region]]])],
      ownerXml(c.principal.projectId, c.principal.ownerDisplayName),
      c.query.has('prefix') ? ['Prefix', prefix] : undefined,
    ]));
  },
};
