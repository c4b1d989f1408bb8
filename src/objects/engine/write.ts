/**
 * The write path: stream a body into a new blob while hashing, make it
 * durable, then commit the object version in one metadata transaction.
 * Whatever fails, nothing half-written becomes visible: the blob is removed
 * and the previous version stays current. Small bodies may be encoded in
 * memory instead (`inlineMax`) and committed inside the version row, so the
 * metadata commit is their only fsync.
 */
import { createHash } from 'node:crypto';
import { randomToken } from '../../core/ids.ts';
import { S3Error } from '../s3/errors.ts';
import { BlobEncoder } from './blobcodec.ts';
import { type Md5, WorkerMd5 } from './md5-worker.ts';
import { type ChecksumAlgorithm, createChecksum } from './checksums.ts';
import type { Sql } from '../../store/types.ts';
import { type EngineCtx, rowToVersion, VERSION_COLS, VERSION_COLS_DATA, versionParams } from './context.ts';
import type { BlobWriter } from '../backends/types.ts';
import type { BlobDesc, BucketConfig, ObjectVersion, SseRequest } from './types.ts';

/** `inline`: the encoded blob (same format as a backend blob) when it was kept in memory. */
export interface WrittenBlob { desc: BlobDesc; md5: Buffer; size: number; checksum?: Buffer; inline?: Buffer }

export interface WriteOpts {
  sse?: SseRequest;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Refuse bodies larger than this many bytes (EntityTooLarge). */
  maxSize?: number;
  /** Exact size the body must have (IncompleteBody otherwise). */
  expectedSize?: number;
  /** Encode in memory (no backend blob) when `expectedSize` is known and at most this many bytes. */
  inlineMax?: number;
}

/** Default `inlineMax` for PutObject: one blob segment. */
export const INLINE_MAX = 64 * 1024;

/** Bodies larger than this (or of unknown size) are MD5-hashed on the worker thread. */
export const WORKER_MD5_MIN = 1024 * 1024;

/** A writer that only collects the encoded bytes (for inline blobs). */
function memoryWriter(): BlobWriter & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    id: randomToken(26),
    async write(chunk) { parts.push(chunk); },
    async commit() { /* committed with the version row */ },
    async abort() { parts.length = 0; },
    bytes: () => (parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts)),
  };
}

export async function writeBlob(ctx: EngineCtx, source: AsyncIterable<Buffer>, opts: WriteOpts): Promise<WrittenBlob> {
  const inline = opts.inlineMax !== undefined && opts.expectedSize !== undefined && opts.expectedSize <= opts.inlineMax;
  const mem = inline ? memoryWriter() : undefined;
  const writer = mem ?? await ctx.backend.create();
  const md5: Md5 = opts.expectedSize === undefined || opts.expectedSize > WORKER_MD5_MIN ? new WorkerMd5() : createHash('md5');
  try {
    const sse = opts.sse ? ctx.keys.newBlob(opts.sse) : undefined;
    const enc = new BlobEncoder(writer, sse?.cipher);
    const ck = opts.checksumAlgorithm ? createChecksum(opts.checksumAlgorithm) : undefined;
    let size = 0;
    const max = opts.maxSize ?? 5 * 1024 ** 4;
    for await (const chunk of source) {
      size += chunk.length;
      if (size > max) throw new S3Error('EntityTooLarge');
      if (opts.expectedSize !== undefined && size > opts.expectedSize) throw new S3Error('IncompleteBody');
      await md5.update(chunk);
      ck?.update(chunk);
      await enc.write(chunk);
    }
    if (opts.expectedSize !== undefined && size !== opts.expectedSize) throw new S3Error('IncompleteBody');
    await enc.finish();
    const [digest] = await Promise.all([md5.digest(), writer.commit()]);
    const desc: BlobDesc = { id: writer.id, size, ...(sse ? { sse: sse.sse } : {}), ...(mem ? { inline: true as const } : {}) };
    return { desc, md5: digest, size, checksum: ck?.digest(), ...(mem ? { inline: mem.bytes() } : {}) };
  } catch (e) {
    md5.abort?.();
    await writer.abort();
    throw e;
  }
}

export interface CommitConds { ifNoneMatchStar?: boolean; ifMatch?: string }

/** Version id for a new write in a bucket with the given versioning state. */
export const newVersionId = (versioning: string) => (versioning === 'Enabled' ? randomToken(32) : 'null');

/**
 * Makes `v` the current version of its key inside transaction `q`. Assigns
 * `v.versionId` per the bucket's versioning state, replaces a previous `null`
 * version, enforces the bucket quota and conditional-write preconditions,
 * and queues replaced blobs for deletion (ids pushed to `removed`).
 * Every refusal (S3Error) is thrown before the first write, so a caller may
 * skip a refused version and keep the rest of its transaction.
 */
export async function applyVersion(ctx: EngineCtx, q: Sql, v: ObjectVersion, conds: CommitConds, removed: string[]): Promise<ObjectVersion> {
  const b = await q.get<{ versioning: string; config: string; bytes: unknown }>('SELECT versioning, config, bytes FROM objects_buckets WHERE name = ?', [v.bucket]);
  if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: v.bucket });
  const curRow = await q.get(`SELECT ${VERSION_COLS} FROM objects_versions WHERE bucket = ? AND key = ? AND latest = 1`, [v.bucket, v.key]);
  const cur = curRow && rowToVersion(curRow);
  if (conds.ifNoneMatchStar && cur && !cur.deleteMarker) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  if (conds.ifMatch !== undefined) {
    if (!cur || cur.deleteMarker) throw new S3Error('NoSuchKey', undefined, { Key: v.key });
    if (!etagMatches(conds.ifMatch, cur.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
  let deltaBytes = v.size;
  let deltaObjects = 1;
  const versionId = newVersionId(b.versioning);
  let old: BlobDesc[] | undefined;
  if (versionId === 'null') {
    const o = cur?.versionId === 'null' ? { size: cur.size, blobs: cur.blobs }
      : await q.get<{ size: unknown; blobs: string }>('SELECT size, blobs FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [v.bucket, v.key, 'null'])
        .then((r) => r && { size: Number(r.size), blobs: JSON.parse(r.blobs) as BlobDesc[] });
    if (o) { old = o.blobs; deltaBytes -= o.size; deltaObjects -= 1; }
  }
  const config = JSON.parse(b.config) as BucketConfig;
  if (config.quotaBytes !== undefined && deltaBytes > 0 && Number(b.bytes) + deltaBytes > config.quotaBytes) {
    throw new S3Error('QuotaExceeded', `Bucket quota of ${config.quotaBytes} bytes would be exceeded`, { BucketName: v.bucket });
  }
  // Writes start here.
  v.versionId = versionId;
  if (old) {
    await q.run('DELETE FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [v.bucket, v.key, 'null']);
    await queueBlobDeletes(ctx, q, old, removed);
  }
  if (cur && !(old && cur.versionId === 'null')) await q.run('UPDATE objects_versions SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1', [v.bucket, v.key]);
  v.latest = true;
  await q.run(`INSERT INTO objects_versions (${VERSION_COLS_DATA}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, versionParams(v));
  await q.run('UPDATE objects_buckets SET bytes = bytes + ?, objects = objects + ? WHERE name = ?', [deltaBytes, deltaObjects, v.bucket]);
  return v;
}

/** Queues the backend blobs of an unlinked version for deletion (inline blobs go with their row). */
export async function queueBlobDeletes(ctx: EngineCtx, q: Sql, blobs: readonly BlobDesc[], removed: string[]): Promise<void> {
  for (const d of blobs) {
    if (d.inline) continue;
    removed.push(d.id);
    await q.run('INSERT INTO objects_gc (blob, queued_ms) VALUES (?, ?)', [d.id, ctx.now()]);
  }
}

interface Pending { v: ObjectVersion; conds: CommitConds; resolve(v: ObjectVersion): void; reject(e: unknown): void }

/**
 * Group commit: concurrent writers' versions are applied in one transaction
 * (one fsync for many PUTs). A refused version fails alone; an engine error
 * fails the batch, whose members are then retried one by one.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private running = false;
  /** Writers that have started streaming a body and will commit soon. */
  private writers = 0;
  constructor(private readonly ctx: EngineCtx, private readonly maxBatch = 64, private readonly maxWaitMs = 2) {}

  /** Brackets a write so the committer can wait briefly for its siblings (group commit). */
  writerStarted() { this.writers++; }
  writerDone() { this.writers--; }

  submit(v: ObjectVersion, conds: CommitConds = {}): Promise<ObjectVersion> {
    return new Promise((resolve, reject) => {
      this.queue.push({ v, conds, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain() {
    this.running = true;
    try {
      while (this.queue.length) {
        // Writers still streaming will commit within a moment: wait for them
        // (bounded) so one fsync serves the whole group.
        for (let waited = 0; waited < this.maxWaitMs && this.queue.length < Math.min(this.writers, this.maxBatch); waited++) {
          await new Promise((r) => setTimeout(r, 1));
        }
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const removed: string[] = [];
          const out = await this.ctx.store.tx(async (q) => {
            removed.length = 0;
            const res: ({ ok: ObjectVersion } | { err: unknown })[] = [];
            for (const p of batch) {
              try { res.push({ ok: await applyVersion(this.ctx, q, { ...p.v }, p.conds, removed) }); } catch (e) {
                if (!(e instanceof S3Error)) throw e;
                res.push({ err: e });
              }
            }
            return res;
          });
          this.ctx.collect(removed);
          out.forEach((r, i) => { if ('ok' in r) batch[i]!.resolve(r.ok); else batch[i]!.reject(r.err); });
        } catch {
          for (const p of batch) await commitAlone(this.ctx, p.v, p.conds).then(p.resolve, p.reject);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** One version in its own transaction, retrying serialization conflicts. */
export async function commitAlone(ctx: EngineCtx, v: ObjectVersion, conds: CommitConds = {}): Promise<ObjectVersion> {
  for (let attempt = 0; ; attempt++) {
    const removed: string[] = [];
    try {
      const out = await ctx.store.tx((q) => { removed.length = 0; return applyVersion(ctx, q, { ...v }, conds, removed); });
      ctx.collect(removed);
      return out;
    } catch (e) {
      if (e instanceof S3Error || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
}

/** Commits a version through the engine's group committer. */
export const commitVersion = (ctx: EngineCtx, v: ObjectVersion, conds: CommitConds = {}) => ctx.committer.submit(v, conds);

/** If-Match / If-None-Match list semantics: `*`, or any of the comma-separated quoted etags. */
export function etagMatches(header: string, etag: string): boolean {
  const clean = etag.replace(/"/g, '');
  return header.split(',').some((t) => { const s = t.trim().replace(/^W\//, '').replace(/"/g, ''); return s === '*' || s === clean; });
}
