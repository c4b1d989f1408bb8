import { authorize, readBody, send } from '../context.ts';
import { S3Error } from '../errors.ts';
import { parseXml, text } from '../xml.ts';
import { cannedAcl } from './common.ts';
import type { S3Command } from './types.ts';

export const CreateBucket: S3Command = {
  name: 'CreateBucket', method: 'PUT', target: 'bucket',
  async handle(c) {
    if (!c.principal) throw new S3Error('AccessDenied');
    await authorize(c, 's3:CreateBucket', undefined);
    const acl = cannedAcl(c);
    const raw = await readBody(c, 64 * 1024);
    let region: string | undefined;
    if (raw.length) {
      const doc = parseXml(raw, 'CreateBucketConfiguration');
      region = text(doc.LocationConstraint) || undefined;
    }
    await c.engine.buckets.createBucket(c.ec, c.principal, c.bucket!, { acl, region });
    send(c, 200, { location: `/${c.bucket}` });
  },
};
