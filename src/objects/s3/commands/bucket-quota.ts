/** yun extension: GET/PUT/DELETE ?quota with <BucketQuota><MaxBytes>n</MaxBytes></BucketQuota>. */
import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { parseXml, text, xmlDoc } from '../xml.ts';
import type { S3Command } from './types.ts';

export const GetBucketQuota: S3Command = {
  name: 'GetBucketQuota', method: 'GET', target: 'bucket', query: ['quota'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketQuota', b);
    sendXml(c, 200, xmlDoc('BucketQuota', [b.config.quotaBytes !== undefined ? ['MaxBytes', b.config.quotaBytes] : undefined, ['UsedBytes', b.bytes]]));
  },
};

export const PutBucketQuota: S3Command = {
  name: 'PutBucketQuota', method: 'PUT', target: 'bucket', query: ['quota'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketQuota', b);
    const doc = parseXml(await readBody(c, 4096), 'BucketQuota');
    const v = text(doc.MaxBytes);
    if (v === undefined || !/^\d+$/.test(v.trim())) throw new S3Error('MalformedXML');
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, quotaBytes: Number(v) }));
    send(c, 200);
  },
};

export const DeleteBucketQuota: S3Command = {
  name: 'DeleteBucketQuota', method: 'DELETE', target: 'bucket', query: ['quota'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketQuota', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { quotaBytes: _q, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};
