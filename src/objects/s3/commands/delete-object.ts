import { authorize, loadBucket, send } from '../context.ts';
import { versionIdParam } from './common.ts';
import { corsHeaders } from './bucket-cors.ts';
import type { S3Command } from './types.ts';

export const DeleteObject: S3Command = {
  name: 'DeleteObject', method: 'DELETE', target: 'object',
  async handle(c) {
    const b = await loadBucket(c);
    const vid = versionIdParam(c);
    await authorize(c, vid ? 's3:DeleteObjectVersion' : 's3:DeleteObject', b, { key: c.key });
    const r = await c.engine.objects.deleteObject(c.ec, b.name, c.key!, vid, c.principal ?? { accessKeyId: '', userId: 'anonymous', projectId: '', ownerDisplayName: 'anonymous' });
    const h: Record<string, string> = { ...corsHeaders(b, c) };
    if (r.versionId !== undefined) h['x-amz-version-id'] = r.versionId;
    if (r.deleteMarker) h['x-amz-delete-marker'] = 'true';
    send(c, 204, h);
  },
};
