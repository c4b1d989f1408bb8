import { authorize, loadBucket, readBody, sendXml } from '../context.ts';
import { S3Error, toS3Error } from '../errors.ts';
import { asArray, parseXml, text, xmlDoc, type XNode } from '../xml.ts';
import type { S3Command } from './types.ts';

export const DeleteObjects: S3Command = {
  name: 'DeleteObjects', method: 'POST', target: 'bucket', query: ['delete'],
  async handle(c) {
    const b = await loadBucket(c);
    const doc = parseXml(await readBody(c, 2 * 1024 * 1024), 'Delete');
    const quiet = text(doc.Quiet) === 'true';
    const objs = asArray(doc.Object as Record<string, unknown>[] | undefined);
    if (objs.length === 0 || objs.length > 1000) throw new S3Error('MalformedXML');
    const out: XNode[] = [];
    const errors: XNode[] = [];
    const owner = c.principal ?? { accessKeyId: '', userId: 'anonymous', projectId: '', ownerDisplayName: 'anonymous' };
    for (const o of objs) {
      const key = text(o.Key);
      if (key === undefined) throw new S3Error('MalformedXML');
      const vid = text(o.VersionId);
      try {
        await authorize(c, vid ? 's3:DeleteObjectVersion' : 's3:DeleteObject', b, { key });
        const r = await c.engine.objects.deleteObject(c.ec, b.name, key, vid, owner);
        if (quiet) continue;
        out.push(['Deleted', [
          ['Key', key],
          vid !== undefined ? ['VersionId', vid] : undefined,
          r.deleteMarker ? ['DeleteMarker', 'true'] : undefined,
          r.deleteMarker && vid === undefined ? ['DeleteMarkerVersionId', r.versionId] : undefined,
        ]]);
      } catch (e) {
        const s3 = toS3Error(e);
        errors.push(['Error', [['Key', key], vid !== undefined ? ['VersionId', vid] : undefined, ['Code', s3.code], ['Message', s3.message]]]);
      }
    }
    sendXml(c, 200, xmlDoc('DeleteResult', [...out, ...errors]));
  },
};
