/** Multipart uploads: parts are separate blobs; completion stitches them into one version without copying. */
import { createHash } from 'node:crypto';
import { randomToken } from '../../core/ids.ts';
import { S3Error } from '../s3/errors.ts';
import { type ChecksumAlgorithm, createChecksum } from './checksums.ts';
import { type EngineCtx, cmpUtf8, num } from './context.ts';
import { checkKey } from './objects.ts';
import type { BlobDesc, CannedAcl, ObjectMeta, ObjectVersion, Principal, SseRequest, Tag } from './types.ts';
import { applyVersion, type CommitConds, writeBlob } from './write.ts';

export const MIN_PART = 5 * 1024 * 1024;
export const MAX_PART = 5 * 1024 ** 3;

export interface UploadMeta {
  meta: ObjectMeta;
  tags: Tag[];
  acl: CannedAcl;
  sse?: 'S3' | 'C';
  sseCustomerKeyMd5?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
}

export interface Upload { uploadId: string; bucket: string; key: string; initiatedMs: number; ownerId: string; meta: UploadMeta }
export interface Part { partNumber: number; size: number; etag: string; mtimeMs: number; blob: BlobDesc; checksum?: string }

const rowToUpload = (r: Record<string, unknown>): Upload => ({
  uploadId: r.upload_id as string, bucket: r.bucket as string, key: r.key as string, initiatedMs: num(r.initiated_ms), ownerId: r.owner_id as string, meta: JSON.parse(r.meta as string),
});
const rowToPart = (r: Record<string, unknown>): Part => ({
  partNumber: num(r.part_number), size: num(r.size), etag: r.etag as string, mtimeMs: num(r.mtime_ms), blob: JSON.parse(r.blob as string), checksum: (r.checksum as string | null) ?? undefined,
});

export async function createUpload(ctx: EngineCtx, bucket: string, key: string, owner: Principal, meta: UploadMeta): Promise<Upload> {
  checkKey(key);
  const u: Upload = { uploadId: randomToken(32), bucket, key, initiatedMs: ctx.now(), ownerId: owner.userId, meta };
  await ctx.store.run('INSERT INTO objects_uploads (upload_id, bucket, key, initiated_ms, owner_id, meta) VALUES (?, ?, ?, ?, ?, ?)', [u.uploadId, bucket, key, u.initiatedMs, u.ownerId, JSON.stringify(meta)]);
  return u;
}

export async function getUpload(ctx: EngineCtx, bucket: string, key: string, uploadId: string): Promise<Upload> {
  const r = await ctx.store.get('SELECT * FROM objects_uploads WHERE upload_id = ?', [uploadId]);
  if (!r || r.bucket !== bucket || r.key !== key) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  return rowToUpload(r);
}

export function checkPartNumber(n: string | undefined): number {
  const v = Number(n);
  if (!n || !/^\d+$/.test(n) || v < 1 || v > 10000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: n ?? '' });
  return v;
}

export interface PartInput {
  upload: Upload;
  partNumber: number;
  body: AsyncIterable<Buffer>;
  expectedSize?: number;
  contentMd5?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  expectedChecksum?: string | (() => string | undefined);
  sse?: SseRequest;
}

export async function uploadPart(ctx: EngineCtx, i: PartInput): Promise<Part> {
  const um = i.upload.meta;
  if (um.sse === 'C' && (i.sse?.type !== 'C' || i.sse.keyMd5 !== um.sseCustomerKeyMd5)) throw new S3Error('InvalidRequest', 'The SSE-C key for this part must match the key used to initiate the upload.');
  const sse: SseRequest | undefined = um.sse === 'S3' ? { type: 'S3' } : um.sse === 'C' ? i.sse : undefined;
  const algo = i.checksumAlgorithm ?? um.checksumAlgorithm;
  const w = await writeBlob(ctx, i.body, { sse, checksumAlgorithm: algo, expectedSize: i.expectedSize, maxSize: MAX_PART });
  try {
    if (i.contentMd5 !== undefined && w.md5.toString('base64') !== i.contentMd5) throw new S3Error('BadDigest');
    let checksum: string | undefined;
    if (algo && w.checksum) {
      checksum = w.checksum.toString('base64');
      const want = typeof i.expectedChecksum === 'function' ? i.expectedChecksum() : i.expectedChecksum;
      if (want !== undefined && want !== checksum) throw new S3Error('BadDigest', `The ${algo} you specified did not match the calculated checksum.`);
    }
    const p: Part = { partNumber: i.partNumber, size: w.size, etag: `"${w.md5.toString('hex')}"`, mtimeMs: ctx.now(), blob: w.desc, checksum };
    let old: string | undefined;
    await ctx.store.tx(async (q) => {
      const u = await q.get('SELECT 1 AS x FROM objects_uploads WHERE upload_id = ?', [i.upload.uploadId]);
      if (!u) throw new S3Error('NoSuchUpload', undefined, { UploadId: i.upload.uploadId });
      const prev = await q.get<{ blob: string }>('SELECT blob FROM objects_parts WHERE upload_id = ? AND part_number = ?', [i.upload.uploadId, i.partNumber]);
      if (prev) {
        old = (JSON.parse(prev.blob) as BlobDesc).id;
        await q.run('DELETE FROM objects_parts WHERE upload_id = ? AND part_number = ?', [i.upload.uploadId, i.partNumber]);
        await q.run('INSERT INTO objects_gc (blob, queued_ms) VALUES (?, ?)', [old, ctx.now()]);
      }
      await q.run('INSERT INTO objects_parts (upload_id, part_number, size, etag, mtime_ms, blob, checksum) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [i.upload.uploadId, i.partNumber, p.size, p.etag, p.mtimeMs, JSON.stringify(p.blob), checksum ?? null]);
    });
    if (old) ctx.collect([old]);
    return p;
  } catch (e) {
    await ctx.backend.delete(w.desc.id).catch(() => undefined);
    throw e;
  }
}

export async function listParts(ctx: EngineCtx, uploadId: string, marker: number, max: number): Promise<{ parts: Part[]; isTruncated: boolean }> {
  const rows = await ctx.store.all('SELECT * FROM objects_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?', [uploadId, marker, max + 1]);
  const parts = rows.map(rowToPart);
  const isTruncated = parts.length > max;
  return { parts: parts.slice(0, max), isTruncated };
}

export interface CompletePart { partNumber: number; etag: string; checksum?: string }

export async function completeUpload(ctx: EngineCtx, upload: Upload, list: CompletePart[], conds: CommitConds, expectedChecksum?: string): Promise<ObjectVersion> {
  if (list.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part');
  for (let k = 1; k < list.length; k++) if (list[k]!.partNumber <= list[k - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  const rows = await ctx.store.all('SELECT * FROM objects_parts WHERE upload_id = ?', [upload.uploadId]);
  const byNum = new Map(rows.map((r) => { const p = rowToPart(r); return [p.partNumber, p]; }));
  const chosen: Part[] = [];
  for (const c of list) {
    const p = byNum.get(c.partNumber);
    if (!p || p.etag.replace(/"/g, '') !== c.etag.replace(/"/g, '').trim()) throw new S3Error('InvalidPart', undefined, { UploadId: upload.uploadId, PartNumber: String(c.partNumber), ETag: c.etag });
    chosen.push(p);
  }
  for (let k = 0; k < chosen.length - 1; k++) {
    if (chosen[k]!.size < MIN_PART) throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(chosen[k]!.size), MinSizeAllowed: String(MIN_PART), PartNumber: String(chosen[k]!.partNumber), ETag: chosen[k]!.etag });
  }
  const md5 = createHash('md5');
  for (const p of chosen) md5.update(Buffer.from(p.etag.replace(/"/g, ''), 'hex'));
  const meta: ObjectMeta = { ...upload.meta.meta, parts: chosen.map((p) => ({ size: p.size, etag: p.etag, checksum: p.checksum })) };
  const algo = upload.meta.checksumAlgorithm;
  if (algo && chosen.every((p) => p.checksum)) {
    if (upload.meta.checksumType !== 'FULL_OBJECT') {
      const h = createChecksum(algo);
      for (const p of chosen) h.update(Buffer.from(p.checksum!, 'base64'));
      const value = `${h.digest().toString('base64')}-${chosen.length}`;
      if (expectedChecksum && expectedChecksum !== value) throw new S3Error('BadDigest', `The ${algo} you specified did not match the calculated checksum.`);
      meta.checksum = { algorithm: algo, value, type: 'COMPOSITE' };
    }
  }
  if (upload.meta.sse) { meta.sse = upload.meta.sse === 'S3' ? 'AES256' : 'SSE-C'; meta.sseCustomerKeyMd5 = upload.meta.sseCustomerKeyMd5; }
  const size = chosen.reduce((a, p) => a + p.size, 0);
  const v: ObjectVersion = {
    bucket: upload.bucket, key: upload.key, versionId: '', seq: ctx.nextSeq(), latest: true, deleteMarker: false, size,
    etag: `"${md5.digest('hex')}-${chosen.length}"`, mtimeMs: ctx.now(), blobs: chosen.map((p) => p.blob), meta, tags: upload.meta.tags, acl: upload.meta.acl, ownerId: upload.ownerId,
  };
  const used = new Set(chosen.map((p) => p.blob.id));
  const unused = [...byNum.values()].filter((p) => !used.has(p.blob.id)).map((p) => p.blob.id);
  const removed: string[] = [];
  const out = await ctx.store.tx(async (q) => {
    removed.length = 0;
    const del = await q.run('DELETE FROM objects_uploads WHERE upload_id = ?', [upload.uploadId]);
    if (del.changes === 0) throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
    await q.run('DELETE FROM objects_parts WHERE upload_id = ?', [upload.uploadId]);
    for (const id of unused) await q.run('INSERT INTO objects_gc (blob, queued_ms) VALUES (?, ?)', [id, ctx.now()]);
    return applyVersion(ctx, q, v, conds, removed);
  });
  ctx.collect([...unused, ...removed]);
  return out;
}

export async function abortUpload(ctx: EngineCtx, upload: Upload): Promise<void> {
  const ids: string[] = [];
  await ctx.store.tx(async (q) => {
    const rows = await q.all<{ blob: string }>('SELECT blob FROM objects_parts WHERE upload_id = ?', [upload.uploadId]);
    const del = await q.run('DELETE FROM objects_uploads WHERE upload_id = ?', [upload.uploadId]);
    if (del.changes === 0) throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
    await q.run('DELETE FROM objects_parts WHERE upload_id = ?', [upload.uploadId]);
    for (const r of rows) { const id = (JSON.parse(r.blob) as BlobDesc).id; ids.push(id); await q.run('INSERT INTO objects_gc (blob, queued_ms) VALUES (?, ?)', [id, ctx.now()]); }
  });
  ctx.collect(ids);
}

export interface UploadListInput { bucket: string; prefix: string; delimiter: string; keyMarker: string; uploadIdMarker: string; maxUploads: number }

export async function listUploads(ctx: EngineCtx, i: UploadListInput): Promise<{ uploads: Upload[]; commonPrefixes: string[]; isTruncated: boolean; nextKeyMarker?: string; nextUploadIdMarker?: string }> {
  const rows = (await ctx.store.all('SELECT * FROM objects_uploads WHERE bucket = ? AND key >= ? ORDER BY key, initiated_ms, upload_id', [i.bucket, i.prefix])).map(rowToUpload);
  const out = { uploads: [] as Upload[], commonPrefixes: [] as string[], isTruncated: false, nextKeyMarker: undefined as string | undefined, nextUploadIdMarker: undefined as string | undefined };
  let pastMarker = !i.keyMarker;
  let count = 0;
  for (const u of rows) {
    if (!u.key.startsWith(i.prefix)) continue;
    if (!pastMarker) {
      const c = cmpUtf8(u.key, i.keyMarker);
      if (c < 0 || (c === 0 && !i.uploadIdMarker)) continue;
      if (c === 0) { if (u.uploadId === i.uploadIdMarker) { pastMarker = true; } continue; }
      pastMarker = true;
    }
    const di = i.delimiter ? u.key.indexOf(i.delimiter, i.prefix.length) : -1;
    if (di >= 0) {
      const cp = u.key.slice(0, di + i.delimiter.length);
      if (out.commonPrefixes.includes(cp) || (i.keyMarker && cmpUtf8(cp, i.keyMarker) <= 0)) continue;
      if (count === i.maxUploads) { out.isTruncated = true; break; }
      out.commonPrefixes.push(cp); out.nextKeyMarker = cp; out.nextUploadIdMarker = undefined; count++;
      continue;
    }
    if (count === i.maxUploads) { out.isTruncated = true; break; }
    out.uploads.push(u); out.nextKeyMarker = u.key; out.nextUploadIdMarker = u.uploadId; count++;
  }
  return out;
}
