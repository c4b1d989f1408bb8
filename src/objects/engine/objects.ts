/** Object operations: put, read, delete, tags, ACLs. */
import { S3Error } from '../s3/errors.ts';
import { BlobCorrupt, decodeRange } from './blobcodec.ts';
import type { ChecksumAlgorithm } from './checksums.ts';
import type { BlobReader } from '../backends/types.ts';
import { type EngineCtx, inlineBytes, rowToVersion, VERSION_COLS, VERSION_COLS_DATA } from './context.ts';
import { type CommitConds, commitVersion, INLINE_MAX, queueBlobDeletes, writeBlob } from './write.ts';
import { randomToken } from '../../core/ids.ts';
import type { BlobDesc, CannedAcl, ObjectMeta, ObjectVersion, Principal, SseRequest, Tag } from './types.ts';

export const MAX_KEY_BYTES = 1024;

export function checkKey(key: string) {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'Object key must not be empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', undefined, { Size: String(Buffer.byteLength(key, 'utf8')), MaxSizeAllowed: String(MAX_KEY_BYTES) });
}

export interface PutInput {
  bucket: string;
  key: string;
  owner: Principal;
  body: AsyncIterable<Buffer>;
  meta: ObjectMeta;
  tags?: Tag[];
  acl?: CannedAcl;
  sse?: SseRequest;
  expectedSize?: number;
  /** base64 Content-MD5 to verify. */
  contentMd5?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Expected base64 checksum, or a function read after the body ended (trailers). */
  expectedChecksum?: string | (() => string | undefined);
  conds?: CommitConds;
}

/** Streams, verifies and commits a new object version. */
export async function putObject(ctx: EngineCtx, i: PutInput): Promise<ObjectVersion> {
  checkKey(i.key);
  ctx.committer.writerStarted();
  try {
    return await putAndCommit(ctx, i);
  } finally {
    ctx.committer.writerDone();
  }
}

async function putAndCommit(ctx: EngineCtx, i: PutInput): Promise<ObjectVersion> {
  const w = await writeBlob(ctx, i.body, { sse: i.sse, checksumAlgorithm: i.checksumAlgorithm, expectedSize: i.expectedSize, maxSize: 5 * 1024 ** 3, inlineMax: INLINE_MAX });
  try {
    if (i.contentMd5 !== undefined && w.md5.toString('base64') !== i.contentMd5) throw new S3Error('BadDigest', undefined, { ExpectedDigest: i.contentMd5, CalculatedDigest: w.md5.toString('base64') });
    const meta: ObjectMeta = { ...i.meta };
    if (i.checksumAlgorithm && w.checksum) {
      const got = w.checksum.toString('base64');
      const want = typeof i.expectedChecksum === 'function' ? i.expectedChecksum() : i.expectedChecksum;
      if (want !== undefined && want !== got) throw new S3Error('BadDigest', `The ${i.checksumAlgorithm} you specified did not match the calculated checksum.`);
      meta.checksum = { algorithm: i.checksumAlgorithm, value: got, type: 'FULL_OBJECT' };
    }
    if (i.sse) { meta.sse = i.sse.type === 'S3' ? 'AES256' : 'SSE-C'; if (i.sse.type === 'C') meta.sseCustomerKeyMd5 = i.sse.keyMd5; }
    const v: ObjectVersion = {
      bucket: i.bucket, key: i.key, versionId: '', seq: ctx.nextSeq(), latest: true, deleteMarker: false, size: w.size,
      etag: `"${w.md5.toString('hex')}"`, mtimeMs: ctx.now(), blobs: [w.desc], meta, tags: i.tags ?? [], acl: i.acl ?? 'private', ownerId: i.owner.userId,
      ...(w.inline ? { inlineData: w.inline } : {}),
    };
    return await commitVersion(ctx, v, i.conds);
  } catch (e) {
    if (!w.inline) await ctx.backend.delete(w.desc.id).catch(() => undefined);
    throw e;
  }
}

/** Commits a version whose blobs already exist (multipart complete). */
export async function putAssembled(ctx: EngineCtx, v: ObjectVersion, conds?: CommitConds): Promise<ObjectVersion> {
  return commitVersion(ctx, v, conds);
}

const VERSION_ID_RE = /^(null|[0-9a-v]{32})$/;

/**
 * Resolves a key (and optional version) to its version row. Missing key →
 * NoSuchKey; latest is a delete marker → NoSuchKey with x-amz-delete-marker;
 * a version that is a delete marker → MethodNotAllowed (as S3 does).
 */
export async function getVersion(ctx: EngineCtx, bucket: string, key: string, versionId?: string, opts: { allowDeleteMarker?: boolean } = {}): Promise<ObjectVersion> {
  if (versionId !== undefined) {
    if (!VERSION_ID_RE.test(versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: versionId });
    const r = await ctx.store.get(`SELECT ${VERSION_COLS_DATA} FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?`, [bucket, key, versionId]);
    if (!r) throw new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
    const v = rowToVersion(r);
    if (v.deleteMarker && !opts.allowDeleteMarker) {
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: 'GET', ResourceType: 'DeleteMarker' }, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId, 'last-modified': new Date(v.mtimeMs).toUTCString(), allow: 'DELETE' });
    }
    return v;
  }
  const r = await ctx.store.get(`SELECT ${VERSION_COLS_DATA} FROM objects_versions WHERE bucket = ? AND key = ? AND latest = 1`, [bucket, key]);
  if (!r) throw new S3Error('NoSuchKey', undefined, { Key: key });
  const v = rowToVersion(r);
  if (v.deleteMarker && !opts.allowDeleteMarker) throw new S3Error('NoSuchKey', undefined, { Key: key }, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': v.versionId });
  return v;
}

/** Plaintext bytes [start, end) of a version, every segment verified (BlobCorrupt otherwise). */
export async function* readObject(ctx: EngineCtx, v: ObjectVersion, start: number, end: number, customer?: SseRequest): AsyncGenerator<Buffer> {
  let base = 0;
  for (const d of v.blobs) {
    const bStart = base;
    const bEnd = base + d.size;
    base = bEnd;
    if (bEnd <= start || bStart >= end) continue;
    const cipher = d.sse ? ctx.keys.open(d.sse, customer) : undefined;
    const reader = d.inline ? memoryReader(v.inlineData ?? await loadInline(ctx, v, d.id)) : await ctx.backend.open(d.id).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobCorrupt(`blob ${d.id} is missing`);
      throw e;
    });
    try {
      yield* decodeRange(reader, d.id, d.size, Math.max(start, bStart) - bStart, Math.min(end, bEnd) - bStart, cipher);
    } finally {
      await reader.close();
    }
  }
}

/** The inline blob of a version read without it (e.g. from a listing). */
async function loadInline(ctx: EngineCtx, v: ObjectVersion, blobId: string): Promise<Buffer> {
  const r = await ctx.store.get<{ inline_data: unknown }>('SELECT inline_data FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [v.bucket, v.key, v.versionId]);
  const data = inlineBytes(r?.inline_data);
  if (!data) throw new BlobCorrupt(`inline blob ${blobId} is missing`);
  return data;
}

/** Reads an inline blob's encoded bytes like a backend file (decodeRange verifies them). */
function memoryReader(data: Buffer): BlobReader {
  return {
    size: data.length,
    read: async (position, length) => data.subarray(position, Math.min(data.length, position + length)),
    close: async () => undefined,
  };
}

/** Checks that a customer key (SSE-C) opens the version before any byte is sent. */
export function checkSseAccess(ctx: EngineCtx, v: ObjectVersion, customer?: SseRequest) {
  if (v.meta.sse === 'SSE-C') {
    if (!customer || customer.type !== 'C') throw new S3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
    for (const d of v.blobs) if (d.sse) ctx.keys.open(d.sse, customer);
  }
}

export interface DeleteResult { versionId?: string; deleteMarker: boolean }

export async function deleteObject(ctx: EngineCtx, bucket: string, key: string, versionId: string | undefined, owner: Principal): Promise<DeleteResult> {
  if (versionId !== undefined && !VERSION_ID_RE.test(versionId)) throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId', ArgumentValue: versionId });
  const removed: string[] = [];
  const res = await ctx.store.tx(async (q): Promise<DeleteResult> => {
    removed.length = 0;
    const b = await q.get<{ versioning: string }>('SELECT versioning FROM objects_buckets WHERE name = ?', [bucket]);
    if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
    const dropVersion = async (vid: string) => {
      const r = await q.get(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?`, [bucket, key, vid]);
      if (!r) return undefined;
      const v = rowToVersion(r);
      await q.run('DELETE FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [bucket, key, vid]);
      await q.run('UPDATE objects_buckets SET bytes = bytes - ?, objects = objects - 1 WHERE name = ?', [v.size, bucket]);
      await queueBlobDeletes(ctx, q, v.blobs as BlobDesc[], removed);
      if (v.latest) {
        const next = await q.get<{ version_id: string }>('SELECT version_id FROM objects_versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1', [bucket, key]);
        if (next) await q.run('UPDATE objects_versions SET latest = 1 WHERE bucket = ? AND key = ? AND version_id = ?', [bucket, key, next.version_id]);
      }
      return v;
    };
    if (versionId !== undefined) {
      const v = await dropVersion(versionId);
      return { versionId, deleteMarker: v?.deleteMarker ?? false };
    }
    if (b.versioning === '') {
      await dropVersion('null');
      return { deleteMarker: false };
    }
    // Versioned or suspended: a delete marker becomes the current version.
    if (b.versioning === 'Suspended') await dropVersion('null');
    const vid = b.versioning === 'Enabled' ? randomToken(32) : 'null';
    await q.run('UPDATE objects_versions SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1', [bucket, key]);
    await q.run(`INSERT INTO objects_versions (${VERSION_COLS}) VALUES (?, ?, ?, ?, 1, 1, 0, '', ?, '[]', '{"user":{}}', '[]', 'private', ?)`,
      [bucket, key, vid, ctx.nextSeq(), ctx.now(), owner.userId]);
    await q.run('UPDATE objects_buckets SET objects = objects + 1 WHERE name = ?', [bucket]);
    return { versionId: vid, deleteMarker: true };
  });
  if (removed.length) ctx.collect(removed);
  return res;
}

export async function setObjectTags(ctx: EngineCtx, v: ObjectVersion, tags: Tag[]): Promise<void> {
  await ctx.store.run('UPDATE objects_versions SET tags = ? WHERE bucket = ? AND key = ? AND version_id = ?', [JSON.stringify(tags), v.bucket, v.key, v.versionId]);
}

export async function setObjectAcl(ctx: EngineCtx, v: ObjectVersion, acl: CannedAcl): Promise<void> {
  await ctx.store.run('UPDATE objects_versions SET acl = ? WHERE bucket = ? AND key = ? AND version_id = ?', [acl, v.bucket, v.key, v.versionId]);
}
