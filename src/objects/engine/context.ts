/** Shared state of one engine instance and row ↔ domain mapping. */
import type { ShortCache } from '../../identity/cache.ts';
import type { StateStore } from '../../store/types.ts';
import type { ObjectBackend } from '../backends/types.ts';
import type { ObjectIdentity } from '../identity.ts';
import type { KeyRing } from './keys.ts';
import type { Bucket, ObjectVersion } from './types.ts';

export interface EngineCtx {
  store: StateStore;
  backend: ObjectBackend;
  keys: KeyRing;
  identity: ObjectIdentity;
  region: string;
  now(): number;
  nextSeq(): number;
  /** Deletes queued blobs after their metadata transaction committed. */
  collect(blobIds: string[]): void;
  /**
   * Bucket rows for the object data path (getBucketCached): cleared by every
   * bucket write of this engine, at most 1 s old otherwise (other replicas).
   */
  buckets: ShortCache;
  /** Batches concurrent version commits into shared transactions. */
  committer: { submit(v: ObjectVersion, conds?: { ifNoneMatchStar?: boolean; ifMatch?: string }): Promise<ObjectVersion>; writerStarted(): void; writerDone(): void };
}

export function seqClock(now: () => number): () => number {
  let last = 0;
  return () => {
    const n = now() * 1000;
    last = n > last ? n : last + 1;
    return last;
  };
}

export const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

export function rowToBucket(r: Record<string, unknown>): Bucket {
  return {
    name: r.name as string,
    projectId: r.project_id as string,
    ownerId: r.owner_id as string,
    ownerName: r.owner_name as string,
    createdMs: num(r.created_ms),
    region: r.region as string,
    versioning: r.versioning as Bucket['versioning'],
    acl: r.acl as Bucket['acl'],
    config: JSON.parse(r.config as string),
    bytes: num(r.bytes),
    objects: num(r.objects),
  };
}

export const VERSION_COLS = 'bucket, key, version_id, seq, latest, delete_marker, size, etag, mtime_ms, blobs, meta, tags, acl, owner_id';
/** VERSION_COLS plus the inline blob bytes (single-version reads that may serve the body; listings leave it out). */
export const VERSION_COLS_DATA = `${VERSION_COLS}, inline_data`;

export function rowToVersion(r: Record<string, unknown>): ObjectVersion {
  const v: ObjectVersion = {
    bucket: r.bucket as string,
    key: r.key as string,
    versionId: r.version_id as string,
    seq: num(r.seq),
    latest: num(r.latest) === 1,
    deleteMarker: num(r.delete_marker) === 1,
    size: num(r.size),
    etag: r.etag as string,
    mtimeMs: num(r.mtime_ms),
    blobs: JSON.parse(r.blobs as string),
    meta: JSON.parse(r.meta as string),
    tags: JSON.parse(r.tags as string),
    acl: r.acl as ObjectVersion['acl'],
    ownerId: r.owner_id as string,
  };
  const data = inlineBytes(r.inline_data);
  if (data) v.inlineData = data;
  return v;
}

/** An `inline_data` column value as a Buffer (SQLite gives Buffers, other drivers may give Uint8Arrays); undefined when NULL. */
export function inlineBytes(data: unknown): Buffer | undefined {
  if (!(data instanceof Uint8Array)) return undefined;
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Parameters for `INSERT … (VERSION_COLS_DATA)`: 15 values. */
export function versionParams(v: ObjectVersion) {
  return [v.bucket, v.key, v.versionId, v.seq, v.latest ? 1 : 0, v.deleteMarker ? 1 : 0, v.size, v.etag, v.mtimeMs,
    JSON.stringify(v.blobs), JSON.stringify(v.meta), JSON.stringify(v.tags), v.acl, v.ownerId, v.inlineData ?? null];
}

/** Compares strings by their UTF-8 bytes (S3 listing order). */
export function cmpUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
