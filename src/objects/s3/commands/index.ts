/** Every S3 operation, registered from one list. More specific matches (more query keys, a header) win. */
import { AbortMultipartUpload } from './abort-multipart-upload.ts';
import { GetBucketAcl, GetObjectAcl, PutBucketAcl, PutObjectAcl } from './acl.ts';
import { DeleteBucketCors, GetBucketCors, OptionsBucket, OptionsObject, PutBucketCors } from './bucket-cors.ts';
import { DeleteBucketEncryption, GetBucketEncryption, PutBucketEncryption } from './bucket-encryption.ts';
import { DeleteBucketLifecycle, GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration } from './bucket-lifecycle.ts';
import { DeleteBucketPolicy, GetBucketPolicy, GetBucketPolicyStatus, PutBucketPolicy } from './bucket-policy.ts';
import { DeleteBucketQuota, GetBucketQuota, PutBucketQuota } from './bucket-quota.ts';
import { DeleteBucketTagging, GetBucketTagging, PutBucketTagging } from './bucket-tagging.ts';
import { GetBucketVersioning, PutBucketVersioning } from './bucket-versioning.ts';
import { CompleteMultipartUpload } from './complete-multipart-upload.ts';
import { CopyObject } from './copy-object.ts';
import { CreateBucket } from './create-bucket.ts';
import { CreateMultipartUpload } from './create-multipart-upload.ts';
import { DeleteBucket } from './delete-bucket.ts';
import { DeleteObject } from './delete-object.ts';
import { DeleteObjects } from './delete-objects.ts';
import { GetBucketLocation } from './get-bucket-location.ts';
import { GetObject, HeadObject } from './get-object.ts';
import { GetObjectAttributes } from './get-object-attributes.ts';
import { HeadBucket } from './head-bucket.ts';
import { ListBuckets } from './list-buckets.ts';
import { ListMultipartUploads } from './list-multipart-uploads.ts';
import { ListObjectVersions } from './list-object-versions.ts';
import { ListObjects } from './list-objects.ts';
import { ListObjectsV2 } from './list-objects-v2.ts';
import { ListParts } from './list-parts.ts';
import { DeleteObjectTagging, GetObjectTagging, PutObjectTagging } from './object-tagging.ts';
import { PutObject } from './put-object.ts';
import type { S3Command } from './types.ts';
import { UploadPart } from './upload-part.ts';
import { UploadPartCopy } from './upload-part-copy.ts';

const ALL: S3Command[] = [
  ListBuckets,
  CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
  GetBucketVersioning, PutBucketVersioning,
  GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus,
  GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl,
  GetBucketCors, PutBucketCors, DeleteBucketCors, OptionsBucket, OptionsObject,
  GetBucketTagging, PutBucketTagging, DeleteBucketTagging,
  GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration, DeleteBucketLifecycle,
  GetBucketEncryption, PutBucketEncryption, DeleteBucketEncryption,
  GetBucketQuota, PutBucketQuota, DeleteBucketQuota,
  ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads, DeleteObjects,
  PutObject, CopyObject, GetObject, HeadObject, DeleteObject, GetObjectAttributes,
  GetObjectTagging, PutObjectTagging, DeleteObjectTagging,
  CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
];

const specificity = (c: S3Command) => (c.query?.length ?? 0) * 2 + (c.header ? 1 : 0);
export const COMMANDS: readonly S3Command[] = [...ALL].sort((a, b) => specificity(b) - specificity(a));

/** Subresources S3 defines that this endpoint does not implement (answered NotImplemented, not misrouted). */
export const UNSUPPORTED_SUBRESOURCES = ['website', 'logging', 'notification', 'replication', 'requestPayment', 'accelerate', 'analytics', 'inventory', 'metrics', 'intelligent-tiering', 'object-lock', 'legal-hold', 'retention', 'torrent', 'restore', 'select', 'ownershipControls', 'publicAccessBlock'];

export function route(method: string, target: S3Command['target'], query: Map<string, string>, headers: Record<string, unknown>): S3Command | undefined {
  for (const c of COMMANDS) {
    if (c.method !== method || c.target !== target) continue;
    if (c.query && !c.query.every((q) => query.has(q))) continue;
    if (c.header && headers[c.header] === undefined) continue;
    return c;
  }
  return undefined;
}
