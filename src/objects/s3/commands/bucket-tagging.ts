import type { Tag } from '../../engine/types.ts';
import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { asArray, parseXml, text, xmlDoc } from '../xml.ts';
import { validateTags } from './common.ts';
import type { S3Command } from './types.ts';

export function parseTagging(body: Buffer, max: number): Tag[] {
  const doc = parseXml(body, 'Tagging');
  const set = (doc.TagSet ?? {}) as Record<string, unknown>;
  const tags = asArray(set.Tag as Record<string, unknown>[] | undefined).map((t) => {
    const key = text(t.Key);
    const value = text(t.Value) ?? '';
    if (key === undefined) throw new S3Error('MalformedXML');
    return { key, value };
  });
  validateTags(tags, max);
  return tags;
}

export const taggingXml = (tags: Tag[]) => xmlDoc('Tagging', [['TagSet', tags.map((t) => ['Tag', [['Key', t.key], ['Value', t.value]]])]]);

export const GetBucketTagging: S3Command = {
  name: 'GetBucketTagging', method: 'GET', target: 'bucket', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketTagging', b);
    if (!b.config.tags?.length) throw new S3Error('NoSuchTagSet', undefined, { BucketName: b.name });
    sendXml(c, 200, taggingXml(b.config.tags));
  },
};

export const PutBucketTagging: S3Command = {
  name: 'PutBucketTagging', method: 'PUT', target: 'bucket', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketTagging', b);
    const tags = parseTagging(await readBody(c, 64 * 1024), 50);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, tags }));
    send(c, 204);
  },
};

export const DeleteBucketTagging: S3Command = {
  name: 'DeleteBucketTagging', method: 'DELETE', target: 'bucket', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketTagging', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { tags: _t, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};
