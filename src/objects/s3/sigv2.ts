/**
 * AWS Signature Version 2 (HMAC-SHA1), header (`AWS AKID:sig`) and query
 * (`AWSAccessKeyId`/`Signature`/`Expires`) forms. Still what Debian 12's
 * boto3 uses for generate_presigned_url and what older s3cmd/rclone setups
 * send; S3 accepts it. The payload is never signed in V2.
 */
import { createHmac } from 'node:crypto';
import type { HeaderMap } from './sigv4.ts';

const SUBRESOURCES = new Set([
  'acl', 'cors', 'delete', 'encryption', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning',
  'versions', 'website', 'attributes', 'object-lock', 'policyStatus', 'quota',
]);

/** CanonicalizedResource: `/bucket/key` as sent plus the signed subresources, sorted. */
export function canonicalResourceV2(rawPath: string, vhostBucket: string | undefined, query: readonly [string, string][]): string {
  let buf = vhostBucket !== undefined ? `/${vhostBucket}${rawPath}` : rawPath;
  const sub = query.filter(([k]) => SUBRESOURCES.has(k)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (sub.length) buf += `?${sub.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&')}`;
  return buf;
}

export function stringToSignV2(method: string, headers: HeaderMap, dateOrExpires: string, resource: string): string {
  const get = (k: string) => headers.get(k)?.join(',') ?? '';
  const amz = [...headers.keys()].filter((k) => k.startsWith('x-amz-')).sort()
    .map((k) => `${k}:${headers.get(k)!.map((v) => v.trim()).join(',')}\n`).join('');
  return `${method}\n${get('content-md5')}\n${get('content-type')}\n${dateOrExpires}\n${amz}${resource}`;
}

export const signV2 = (secret: string, sts: string) => createHmac('sha1', secret).update(sts, 'utf8').digest('base64');
