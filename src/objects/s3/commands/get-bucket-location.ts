import { authorize, loadBucket, sendXml } from '../context.ts';
import { S3_NS } from '../xml.ts';
import type { S3Command } from './types.ts';

export const GetBucketLocation: S3Command = {
  name: 'GetBucketLocation', method: 'GET', target: 'bucket', query: ['location'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketLocation', b);
    // us-east-1 is reported as an empty LocationConstraint, as S3 does.
    const loc = b.region === 'us-east-1' ? '' : b.region;
    sendXml(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}">${loc}</LocationConstraint>`);
  },
};
