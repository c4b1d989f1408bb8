import { authorize, loadBucket, send } from '../context.ts';
import type { S3Command } from './types.ts';

export const AbortMultipartUpload: S3Command = {
  name: 'AbortMultipartUpload', method: 'DELETE', target: 'object', query: ['uploadId'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:AbortMultipartUpload', b, { key: c.key });
    const upload = await c.engine.multipart.getUpload(c.ec, b.name, c.key!, c.query.get('uploadId')!);
    await c.engine.multipart.abortUpload(c.ec, upload);
    send(c, 204);
  },
};
