import { authorize, loadBucket, readBody, send, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { parseXml, text, xmlDoc } from '../xml.ts';
import type { S3Command } from './types.ts';

export const GetBucketVersioning: S3Command = {
  name: 'GetBucketVersioning', method: 'GET', target: 'bucket', query: ['versioning'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketVersioning', b);
    sendXml(c, 200, xmlDoc('VersioningConfiguration', [b.versioning ? ['Status', b.versioning] : undefined]));
  },
};

export const PutBucketVersioning: S3Command = {
  name: 'PutBucketVersioning', method: 'PUT', target: 'bucket', query: ['versioning'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketVersioning', b);
    const doc = parseXml(await readBody(c), 'VersioningConfiguration');
    const status = text(doc.Status);
    if (status !== 'Enabled' && status !== 'Suspended') throw new S3Error('IllegalVersioningConfigurationException', 'The Versioning element must be specified');
    const mfa = text(doc.MfaDelete);
    if (mfa !== undefined && mfa !== 'Disabled') throw new S3Error('NotImplemented', 'MFA Delete is not supported');
    await c.engine.buckets.setVersioning(c.ec, b.name, status);
    send(c, 200);
  },
};
