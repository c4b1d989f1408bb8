/** Domain types of the objects engine (protocol-neutral). */
import type { ChecksumAlgorithm } from './checksums.ts';

export type Versioning = '' | 'Enabled' | 'Suspended';
export type CannedAcl = 'private' | 'public-read' | 'public-read-write' | 'authenticated-read';

export interface Tag { key: string; value: string }

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface LifecycleRule {
  id?: string;
  status: 'Enabled' | 'Disabled';
  prefix: string;
  tags: Tag[];
  expirationDays?: number;
  expirationDate?: string;
  expiredObjectDeleteMarker?: boolean;
  noncurrentDays?: number;
  newerNoncurrentVersions?: number;
  abortIncompleteDays?: number;
}

export interface BucketConfig {
  policy?: string;
  cors?: CorsRule[];
  lifecycle?: LifecycleRule[];
  encryption?: { algorithm: 'AES256'; bucketKeyEnabled?: boolean };
  tags?: Tag[];
  /** Bucket quota in bytes (all versions). */
  quotaBytes?: number;
}

export interface Bucket {
  name: string;
  projectId: string;
  ownerId: string;
  ownerName: string;
  createdMs: number;
  region: string;
  versioning: Versioning;
  acl: CannedAcl;
  config: BucketConfig;
  bytes: number;
  objects: number;
}

export type BlobSse = { t: 'S3'; wk: string; iv: string } | { t: 'C'; salt: string; iv: string; check: string };

/** One stored blob (a whole object, or one part of a multipart object). */
/**
 * One blob of a version. `inline` blobs (small single-blob PUTs) are not
 * backend files: their encoded bytes (same format, CRC32s or GCM tags
 * included) live in the version row's `inline_data` column.
 */
export interface BlobDesc { id: string; size: number; sse?: BlobSse; inline?: true }

export interface StoredChecksum { algorithm: ChecksumAlgorithm; value: string; type: 'FULL_OBJECT' | 'COMPOSITE' }

export interface ObjectMeta {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  websiteRedirect?: string;
  storageClass?: string;
  user: Record<string, string>;
  checksum?: StoredChecksum;
  sse?: 'AES256' | 'SSE-C';
  sseCustomerKeyMd5?: string;
  /** Multipart objects: size, etag and checksum of each part in order. */
  parts?: { size: number; etag: string; checksum?: string }[];
}

export interface ObjectVersion {
  bucket: string;
  key: string;
  versionId: string;
  seq: number;
  latest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  mtimeMs: number;
  blobs: BlobDesc[];
  meta: ObjectMeta;
  tags: Tag[];
  acl: CannedAcl;
  ownerId: string;
  /** Encoded bytes of an inline blob, when the row was read with them (see BlobDesc.inline). */
  inlineData?: Buffer;
}

export interface Principal {
  accessKeyId: string;
  userId: string;
  projectId: string;
  ownerDisplayName: string;
}

/** SSE request for a write or the key needed for a read. */
export type SseRequest = { type: 'S3' } | { type: 'C'; key: Buffer; keyMd5: string };
