import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { parseXml, text, xmlDoc } from '../xml.ts';
import type { S3Command } from './types.ts';

export const GetBucketEncryption: S3Command = {
  name: 'GetBucketEncryption', method: 'GET', target: 'bucket', query: ['encryption'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetEncryptionConfiguration', b);
    if (!b.config.encryption) throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: b.name });
    sendXml(c, 200, xmlDoc('ServerSideEncryptionConfiguration', [['Rule', [
      ['ApplyServerSideEncryptionByDefault', [['SSEAlgorithm', 'AES256']]],
      ['BucketKeyEnabled', b.config.encryption.bucketKeyEnabled ? 'true' : 'false'],
    ]]]));
  },
};

export const PutBucketEncryption: S3Command = {
  name: 'PutBucketEncryption', method: 'PUT', target: 'bucket', query: ['encryption'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutEncryptionConfiguration', b);
    const doc = parseXml(await readBody(c, 64 * 1024), 'ServerSideEncryptionConfiguration');
    const rule = doc.Rule as Record<string, unknown> | undefined;
    const def = rule?.ApplyServerSideEncryptionByDefault as Record<string, unknown> | undefined;
    const alg = text(def?.SSEAlgorithm);
    if (!alg) throw new S3Error('MalformedXML');
    if (alg !== 'AES256') throw new S3Error(alg.startsWith('aws:kms') ? 'NotImplemented' : 'InvalidArgument', 'Only AES256 default encryption is supported');
    const bke = text(rule?.BucketKeyEnabled) === 'true';
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, encryption: { algorithm: 'AES256', bucketKeyEnabled: bke } }));
    send(c, 200);
  },
};

export const DeleteBucketEncryption: S3Command = {
  name: 'DeleteBucketEncryption', method: 'DELETE', target: 'bucket', query: ['encryption'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutEncryptionConfiguration', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { encryption: _e, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};
