import { authorize, loadBucket, send } from '../context.ts';
import type { S3Command } from './types.ts';

export const DeleteBucket: S3Command = {
  name: 'DeleteBucket', method: 'DELETE', target: 'bucket',
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:DeleteBucket', b);
    await c.engine.buckets.deleteBucket(c.ec, b.name);
    send(c, 204);
  },
};
