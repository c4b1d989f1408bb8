import { authorize, loadBucket, sendXml } from '../context.ts';
import { S3Error } from '../errors.ts';
import { isoDate, xmlDoc, type XNode } from '../xml.ts';
import { ownerXml } from './common.ts';
import { encoder, maxKeysParam } from './listing-common.ts';
import type { S3Command } from './types.ts';

export const ListObjectVersions: S3Command = {
  name: 'ListObjectVersions', method: 'GET', target: 'bucket', query: ['versions'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:ListBucketVersions', b);
    const prefix = c.query.get('prefix') ?? '';
    const delimiter = c.query.get('delimiter') ?? '';
    const keyMarker = c.query.get('key-marker') ?? '';
    const versionIdMarker = c.query.get('version-id-marker') ?? '';
    if (versionIdMarker && !keyMarker) throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker });
    const maxKeys = maxKeysParam(c);
    const enc = encoder(c);
    const page = await c.engine.listing.listVersions(c.ec, { bucket: b.name, prefix, delimiter, keyMarker, versionIdMarker, maxKeys });
    const owner = ownerXml(b.projectId, b.ownerName);
    const entries: XNode[] = page.versions.map((v) => v.deleteMarker
      ? ['DeleteMarker', [['Key', enc(v.key)], ['VersionId', v.versionId], ['IsLatest', v.latest], ['LastModified', isoDate(v.mtimeMs)], owner]]
      : ['Version', [
        ['Key', enc(v.key)], ['VersionId', v.versionId], ['IsLatest', v.latest], ['LastModified', isoDate(v.mtimeMs)], ['ETag', v.etag],
        v.meta.checksum ? ['ChecksumAlgorithm', v.meta.checksum.algorithm] : undefined,
        v.meta.checksum ? ['ChecksumType', v.meta.checksum.type] : undefined,
        ['Size', v.size], ['StorageClass', v.meta.storageClass ?? 'STANDARD'], owner,
      ]]);
    sendXml(c, 200, xmlDoc('ListVersionsResult', [
      ['Name', b.name],
      ['Prefix', enc(prefix)],
      ['KeyMarker', enc(keyMarker)],
      ['VersionIdMarker', versionIdMarker],
      page.isTruncated ? ['NextKeyMarker', enc(page.nextKeyMarker ?? '')] : undefined,
      page.isTruncated && page.nextVersionIdMarker ? ['NextVersionIdMarker', page.nextVersionIdMarker] : undefined,
      ['MaxKeys', maxKeys],
      delimiter ? ['Delimiter', enc(delimiter)] : undefined,
      ['IsTruncated', page.isTruncated],
      c.query.has('encoding-type') ? ['EncodingType', 'url'] : undefined,
      ...entries,
      ...page.commonPrefixes.map((p) => ['CommonPrefixes', [['Prefix', enc(p)]]] as XNode),
    ]));
  },
};
