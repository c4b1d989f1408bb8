import { authorize, loadBucket, sendXml } from '../context.ts';
import { isoDate, xmlDoc, type XNode } from '../xml.ts';
import { ownerXml } from './common.ts';
import { encoder, maxKeysParam } from './listing-common.ts';
import type { S3Command } from './types.ts';

export const ListMultipartUploads: S3Command = {
  name: 'ListMultipartUploads', method: 'GET', target: 'bucket', query: ['uploads'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:ListBucketMultipartUploads', b);
    const prefix = c.query.get('prefix') ?? '';
    const delimiter = c.query.get('delimiter') ?? '';
    const keyMarker = c.query.get('key-marker') ?? '';
    const uploadIdMarker = c.query.get('upload-id-marker') ?? '';
    const maxUploads = maxKeysParam(c, 'max-uploads');
    const enc = encoder(c);
    const r = await c.engine.multipart.listUploads(c.ec, { bucket: b.name, prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
    sendXml(c, 200, xmlDoc('ListMultipartUploadsResult', [
      ['Bucket', b.name],
      ['KeyMarker', enc(keyMarker)],
      ['UploadIdMarker', uploadIdMarker],
      ['NextKeyMarker', r.isTruncated ? enc(r.nextKeyMarker ?? '') : ''],
      ['NextUploadIdMarker', r.isTruncated ? r.nextUploadIdMarker ?? '' : ''],
      delimiter ? ['Delimiter', enc(delimiter)] : undefined,
      ['Prefix', enc(prefix)],
      ['MaxUploads', maxUploads],
      ['IsTruncated', r.isTruncated],
      c.query.has('encoding-type') ? ['EncodingType', 'url'] : undefined,
      ...r.uploads.map((u) => ['Upload', [
        ['Key', enc(u.key)], ['UploadId', u.uploadId], ['Initiator', [['ID', u.ownerId], ['DisplayName', u.ownerId]]], ownerXml(b.projectId, b.ownerName),
        ['StorageClass', u.meta.meta.storageClass ?? 'STANDARD'], ['Initiated', isoDate(u.initiatedMs)],
        u.meta.checksumAlgorithm ? ['ChecksumAlgorithm', u.meta.checksumAlgorithm] : undefined,
      ]] as XNode),
      ...r.commonPrefixes.map((p) => ['CommonPrefixes', [['Prefix', enc(p)]]] as XNode),
    ]));
  },
};
