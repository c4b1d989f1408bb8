/**
 * The write path: stream a body into a new blob while hashing, make it
 * durable, then commit the object version in one metadata transaction.
 * Whatever fails, nothing half-written becomes visible: the blob is removed
 * and the previous version stays current.
 */
import { createHash } from 'node:crypto';
import { randomToken } from '../../core/ids.ts';
import { S3Error } from '../s3/errors.ts';
import { BlobEncoder } from './blobcodec.ts';
import { type ChecksumAlgorithm, createChecksum } from './checksums.ts';
import { type EngineCtx, rowToVersion, VERSION_COLS, versionParams } from './context.ts';
import type { BlobDesc, BucketConfig, ObjectVersion, SseRequest } from './types.ts';

export interface WrittenBlob { desc: BlobDesc; md5: Buffer; size: number; checksum?: Buffer }

export interface WriteOpts {
  sse?: SseRequest;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Refuse bodies larger than this many bytes (EntityTooLarge). */
  maxSize?: number;
  /** Exact size the body must have (IncompleteBody otherwise). */
  expectedSize?: number;
}

export async function writeBlob(ctx: EngineCtx, source: AsyncIterable<Buffer>, opts: WriteOpts): Promise<WrittenBlob> {
  const writer = await ctx.backend.create();
  try {
    const sse = opts.sse ? ctx.keys.newBlob(opts.sse) : undefined;
    const enc = new BlobEncoder(writer, sse?.cipher);
    const md5 = createHash('md5');
    const ck = opts.checksumAlgorithm ? createChecksum(opts.checksumAlgorithm) : undefined;
    let size = 0;
    const max = opts.maxSize ?? 5 * 1024 ** 4;
    for await (const chunk of source) {
      size += chunk.length;
      if (size > max) throw new S3Error('EntityTooLarge');
      md5.update(chunk);
      ck?.update(chunk);
      await enc.write(chunk);
    }
    if (opts.expectedSize !== undefined && size !== opts.expectedSize) throw new S3Error('IncompleteBody');
    await enc.finish();
    await writer.commit();
    return { desc: { id: writer.id, size, ...(sse ? { sse: sse.sse } : {}) }, md5: md5.digest(), size, checksum: ck?.digest() };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

export interface CommitConds { ifNoneMatchStar?: boolean; ifMatch?: string }

/** Version id for a new write in a bucket with the given versioning state. */
export const newVersionId = (versioning: string) => (versioning === 'Enabled' ? randomToken(32) : 'null');

/**
 * Makes `v` the current version of its key. Assigns `v.versionId` per the
 * bucket's versioning state, replaces a previous `null` version, enforces the
 * bucket quota and conditional-write preconditions, and queues replaced
 * blobs for deletion. Exactly one of concurrent If-None-Match:* writers wins.
 */
export async function commitVersion(ctx: EngineCtx, v: ObjectVersion, conds: CommitConds = {}): Promise<ObjectVersion> {
  let removed: string[] = [];
  const run = () => ctx.store.tx(async (q) => {
    removed = [];
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
    v.versionId = newVersionId(b.versioning);
    if (v.versionId === 'null') {
      const old = await q.get<{ size: unknown; blobs: string }>('SELECT size, blobs FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [v.bucket, v.key, 'null']);
      if (old) {
        await q.run('DELETE FROM objects_versions WHERE bucket = ? AND key = ? AND version_id = ?', [v.bucket, v.key, 'null']);
        for (const d of JSON.parse(old.blobs) as BlobDesc[]) removed.push(d.id);
        deltaBytes -= Number(old.size);
        deltaObjects -= 1;
      }
    }
    const config = JSON.parse(b.config) as BucketConfig;
    if (config.quotaBytes !== undefined && deltaBytes > 0 && Number(b.bytes) + deltaBytes > config.quotaBytes) {
      throw new S3Error('QuotaExceeded', `Bucket quota of ${config.quotaBytes} bytes would be exceeded`, { BucketName: v.bucket });
    }
    if (cur) await q.run('UPDATE objects_versions SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1', [v.bucket, v.key]);
    v.latest = true;
    await q.run(`INSERT INTO objects_versions (${VERSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, versionParams(v));
    await q.run('UPDATE objects_buckets SET bytes = bytes + ?, objects = objects + ? WHERE name = ?', [deltaBytes, deltaObjects, v.bucket]);
    for (const id of removed) await q.run('INSERT INTO objects_gc (blob, queued_ms) VALUES (?, ?)', [id, ctx.now()]);
    return v;
  });
  for (let attempt = 0; ; attempt++) {
    try {
      const out = await run();
      ctx.collect(removed);
      return out;
    } catch (e) {
      if (e instanceof S3Error || attempt >= 4) throw e;
      // Serialization conflicts (PostgreSQL) retry; the loser of a conditional create then sees the winner.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
}

/** If-Match / If-None-Match list semantics: `*`, or any of the comma-separated quoted etags. */
export function etagMatches(header: string, etag: string): boolean {
  const clean = etag.replace(/"/g, '');
  return header.split(',').some((t) => { const s = t.trim().replace(/^W\//, '').replace(/"/g, ''); return s === '*' || s === clean; });
}
