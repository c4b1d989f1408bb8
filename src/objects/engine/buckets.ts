/** Bucket lifecycle and configuration. */
import { S3Error } from '../s3/errors.ts';
import { type EngineCtx, rowToBucket } from './context.ts';
import type { Bucket, BucketConfig, CannedAcl, Principal, Versioning } from './types.ts';

/** S3 bucket naming rules (general purpose buckets). */
export function validBucketName(n: string): boolean {
  if (n.length < 3 || n.length > 63) return false;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(n)) return false;
  if (n.includes('..') || n.includes('.-') || n.includes('-.')) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(n)) return false;
  if (n.startsWith('xn--') || n.startsWith('sthree-') || n.startsWith('amzn-s3-demo-')) return false;
  if (n.endsWith('-s3alias') || n.endsWith('--ol-s3') || n.endsWith('.mrap') || n.endsWith('--x-s3')) return false;
  return true;
}

export async function getBucket(ctx: EngineCtx, name: string): Promise<Bucket | undefined> {
  const r = await ctx.store.get('SELECT * FROM objects_buckets WHERE name = ?', [name]);
  return r && rowToBucket(r);
}

/**
 * getBucket through a short cache, for GET/PUT of objects: the bucket's
 * configuration as of ≤ 1 s ago (as fresh as this engine's own bucket
 * writes), its `bytes`/`objects` counters possibly older — callers that
 * enforce a quota re-read with getBucket.
 */
export function getBucketCached(ctx: EngineCtx, name: string): Promise<Bucket | undefined> {
  return ctx.buckets.get(name, () => getBucket(ctx, name));
}

export async function requireBucket(ctx: EngineCtx, name: string): Promise<Bucket> {
  const b = await getBucket(ctx, name);
  if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  return b;
}

export async function createBucket(ctx: EngineCtx, p: Principal, name: string, opts: { acl?: CannedAcl; region?: string }): Promise<Bucket> {
  if (!validBucketName(name)) throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
  if (opts.region && opts.region !== ctx.region) throw new S3Error('InvalidLocationConstraint', `The specified location-constraint is not valid`, { LocationConstraint: opts.region });
  const existing = await getBucket(ctx, name);
  if (existing) throw existing.projectId === p.projectId ? new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name }) : new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
  await ctx.identity.checkQuota(p.projectId, 'buckets', 1);
  const now = ctx.now();
  ctx.buckets.clear();
  try {
    await ctx.store.run(
      'INSERT INTO objects_buckets (name, project_id, owner_id, owner_name, created_ms, region, versioning, acl, config, bytes, objects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)',
      [name, p.projectId, p.userId, p.ownerDisplayName, now, ctx.region, '', opts.acl ?? 'private', '{}'],
    );
  } catch (e) {
    await ctx.identity.checkQuota(p.projectId, 'buckets', -1).catch(() => undefined);
    const again = await getBucket(ctx, name);
    if (again) throw again.projectId === p.projectId ? new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name }) : new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
    throw e;
  }
  return (await getBucket(ctx, name))!;
}

export async function listBuckets(ctx: EngineCtx, projectId: string): Promise<Bucket[]> {
  const rows = await ctx.store.all('SELECT * FROM objects_buckets WHERE project_id = ? ORDER BY name', [projectId]);
  return rows.map(rowToBucket);
}

export async function deleteBucket(ctx: EngineCtx, name: string): Promise<void> {
  const b = await requireBucket(ctx, name);
  await ctx.store.tx(async (q) => {
    const any = await q.get('SELECT 1 AS x FROM objects_versions WHERE bucket = ? LIMIT 1', [name]);
    if (any) throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
    const up = await q.get('SELECT 1 AS x FROM objects_uploads WHERE bucket = ? LIMIT 1', [name]);
    if (up) throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete has in-progress multipart uploads', { BucketName: name });
    await q.run('DELETE FROM objects_buckets WHERE name = ?', [name]);
  });
  ctx.buckets.clear();
  await ctx.identity.checkQuota(b.projectId, 'buckets', -1).catch(() => undefined);
}

export async function setVersioning(ctx: EngineCtx, name: string, v: Versioning): Promise<void> {
  await ctx.store.run('UPDATE objects_buckets SET versioning = ? WHERE name = ?', [v, name]);
  ctx.buckets.clear();
}

export async function setBucketAcl(ctx: EngineCtx, name: string, acl: CannedAcl): Promise<void> {
  await ctx.store.run('UPDATE objects_buckets SET acl = ? WHERE name = ?', [acl, name]);
  ctx.buckets.clear();
}

/** Read-modify-write of the JSON config in one transaction. */
export async function updateBucketConfig(ctx: EngineCtx, name: string, fn: (c: BucketConfig) => BucketConfig): Promise<void> {
  await ctx.store.tx(async (q) => {
    const r = await q.get<{ config: string }>('SELECT config FROM objects_buckets WHERE name = ?', [name]);
    if (!r) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    await q.run('UPDATE objects_buckets SET config = ? WHERE name = ?', [JSON.stringify(fn(JSON.parse(r.config))), name]);
  });
  ctx.buckets.clear();
}
