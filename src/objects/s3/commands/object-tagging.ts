import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { versionIdParam } from './common.ts';
import { parseTagging, taggingXml } from './bucket-tagging.ts';
import type { S3Command } from './types.ts';

export const GetObjectTagging: S3Command = {
  name: 'GetObjectTagging', method: 'GET', target: 'object', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, versionIdParam(c) ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging', b, { key: c.key });
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, versionIdParam(c));
    sendXml(c, 200, taggingXml(v.tags), b.versioning !== '' ? { 'x-amz-version-id': v.versionId } : {});
  },
};

export const PutObjectTagging: S3Command = {
  name: 'PutObjectTagging', method: 'PUT', target: 'object', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, versionIdParam(c) ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging', b, { key: c.key });
    const tags = parseTagging(await readBody(c, 64 * 1024), 10);
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, versionIdParam(c));
    await c.engine.objects.setObjectTags(c.ec, v, tags);
    send(c, 200, b.versioning !== '' ? { 'x-amz-version-id': v.versionId } : {});
  },
};

export const DeleteObjectTagging: S3Command = {
  name: 'DeleteObjectTagging', method: 'DELETE', target: 'object', query: ['tagging'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, versionIdParam(c) ? 's3:DeleteObjectVersionTagging' : 's3:DeleteObjectTagging', b, { key: c.key });
    const v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, versionIdParam(c));
    await c.engine.objects.setObjectTags(c.ec, v, []);
    send(c, 204, b.versioning !== '' ? { 'x-amz-version-id': v.versionId } : {});
  },
};
