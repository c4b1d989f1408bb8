import type { ObjectVersion } from '../../engine/types.ts';
import type { S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { uriEncode } from '../sigv4.ts';
import { isoDate, type XNode } from '../xml.ts';
import { ownerXml } from './common.ts';

export function maxKeysParam(c: S3Ctx, name = 'max-keys'): number {
  const v = c.query.get(name);
  if (v === undefined || v === '') return 1000;
  if (!/^-?\d+$/.test(v)) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: name, ArgumentValue: v });
  const n = Number(v);
  if (n < 0) throw new S3Error('InvalidArgument', 'Argument maxKeys must be an integer between 0 and 2147483647', { ArgumentName: name, ArgumentValue: v });
  return Math.min(n, 1000);
}

export function encoder(c: S3Ctx): (s: string) => string {
  const et = c.query.get('encoding-type');
  if (et === undefined) return (s) => s;
  if (et !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: et });
  return (s) => uriEncode(s, true);
}

export function contentsXml(v: ObjectVersion, enc: (s: string) => string, owner?: { id: string; name: string }): XNode {
  return ['Contents', [
    ['Key', enc(v.key)],
    ['LastModified', isoDate(v.mtimeMs)],
    ['ETag', v.etag],
    v.meta.checksum ? ['ChecksumAlgorithm', v.meta.checksum.algorithm] : undefined,
    v.meta.checksum ? ['ChecksumType', v.meta.checksum.type] : undefined,
    ['Size', v.size],
    owner ? ownerXml(owner.id, owner.name) : undefined,
    ['StorageClass', v.meta.storageClass ?? 'STANDARD'],
  ]];
}
