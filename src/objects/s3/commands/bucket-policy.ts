import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { validatePolicy } from '../policy.ts';
import { xmlDoc } from '../xml.ts';
import type { S3Command } from './types.ts';

export const GetBucketPolicy: S3Command = {
  name: 'GetBucketPolicy', method: 'GET', target: 'bucket', query: ['policy'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketPolicy', b);
    if (!b.config.policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: b.name });
    send(c, 200, { 'content-type': 'application/json' }, b.config.policy);
  },
};

export const PutBucketPolicy: S3Command = {
  name: 'PutBucketPolicy', method: 'PUT', target: 'bucket', query: ['policy'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketPolicy', b);
    const text = (await readBody(c, 20 * 1024)).toString('utf8');
    validatePolicy(text, b.name);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, policy: text }));
    send(c, 204);
  },
};

export const DeleteBucketPolicy: S3Command = {
  name: 'DeleteBucketPolicy', method: 'DELETE', target: 'bucket', query: ['policy'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:DeleteBucketPolicy', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { policy: _p, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};

export const GetBucketPolicyStatus: S3Command = {
  name: 'GetBucketPolicyStatus', method: 'GET', target: 'bucket', query: ['policyStatus'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketPolicyStatus', b);
    const pub = !!b.config.policy && /"Principal"\s*:\s*("\*"|\{\s*"AWS"\s*:\s*"\*")/.test(b.config.policy);
    sendXml(c, 200, xmlDoc('PolicyStatus', [['IsPublic', pub ? 'true' : 'false']]));
  },
};
