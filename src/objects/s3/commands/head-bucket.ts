import { authorize, loadBucket, send } from '../context.ts';
import type { S3Command } from './types.ts';

export const HeadBucket: S3Command = {
  name: 'HeadBucket', method: 'HEAD', target: 'bucket',
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:ListBucket', b);
    send(c, 200, { 'x-amz-bucket-region': b.region, 'x-amz-access-point-alias': 'false' });
  },
};
