/** Per-request state of the S3 edge and the response helpers every command uses. */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EngineCtx } from '../engine/context.ts';
import type { ObjectEngine } from '../engine/index.ts';
import type { Bucket, Principal, SseRequest } from '../engine/types.ts';
import type { ObjectIdentity } from '../identity.ts';
import type { PayloadMode } from './auth.ts';
import { type ChunkedResult, decodeAwsChunked } from './chunked.ts';
import { S3Error } from './errors.ts';
import { aclAllows, evaluatePolicy } from './policy.ts';

export interface S3Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  engine: ObjectEngine;
  ec: EngineCtx;
  identity: ObjectIdentity;
  region: string;
  requestId: string;
  bucket?: string;
  key?: string;
  query: Map<string, string>;
  principal?: Principal;
  payload: PayloadMode;
  /** Trailing headers of an aws-chunked body, filled once the body has been read. */
  trailers: ChunkedResult;
  bodyConsumed: boolean;
  sourceIp: string;
}

export const header = (c: S3Ctx, name: string): string | undefined => {
  const v = c.req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/** The verified request body as a stream of buffers. */
export function body(c: S3Ctx): AsyncIterable<Buffer> {
  c.bodyConsumed = true;
  const raw = c.req as AsyncIterable<Buffer>;
  const p = c.payload;
  const enc = header(c, 'content-encoding') ?? '';
  if (p.kind === 'chunked' || enc.split(',').map((s) => s.trim()).includes('aws-chunked')) {
    return decodeAwsChunked(raw, p.kind === 'chunked' ? p.signing : undefined, c.trailers);
  }
  if (p.kind === 'sha256') return verifySha256(raw, p.hex);
  return raw;
}

async function* verifySha256(src: AsyncIterable<Buffer>, hex: string): AsyncGenerator<Buffer> {
  const h = createHash('sha256');
  for await (const b of src) { h.update(b); yield b; }
  // Last yield happens before the check, so the writer must still verify before commit:
  // the generator throws here, before the consumer's loop completes.
  if (h.digest('hex') !== hex) throw new S3Error('XAmzContentSHA256Mismatch', undefined, { ClientComputedContentSHA256: hex });
}

/** Reads a small body fully (XML configs). Larger than `limit` → MaxMessageLengthExceeded. */
export async function readBody(c: S3Ctx, limit = 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const b of body(c)) {
    n += b.length;
    if (n > limit) throw new S3Error('MaxMessageLengthExceeded');
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** The size the body will have: x-amz-decoded-content-length for aws-chunked, else Content-Length. */
export function declaredSize(c: S3Ctx): number | undefined {
  const d = header(c, 'x-amz-decoded-content-length');
  const v = d ?? (c.payload.kind === 'chunked' ? undefined : header(c, 'content-length'));
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new S3Error('InvalidArgument', 'Invalid content length');
  return Number(v);
}

export function send(c: S3Ctx, status: number, headers: Record<string, string | number> = {}, payload?: string | Buffer) {
  const h: Record<string, string | number> = { 'x-amz-request-id': c.requestId, 'x-amz-id-2': c.requestId, server: 'yun', ...headers };
  if (payload !== undefined) {
    h['content-length'] = Buffer.byteLength(payload);
  } else if (h['content-length'] === undefined) h['content-length'] = 0;
  c.res.writeHead(status, h);
  c.res.end(payload);
}

export function sendXml(c: S3Ctx, status: number, xml: string, headers: Record<string, string | number> = {}) {
  send(c, status, { 'content-type': 'application/xml', ...headers }, xml);
}

export const arnOf = (bucket?: string, key?: string) => (bucket === undefined ? '*' : key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`);

/**
 * Decides whether the caller may perform `action` on the bucket (and key).
 * Explicit Deny in the bucket policy or the caller's IAM policies wins; the
 * owning project's users need an IAM or policy Allow; everyone else needs a
 * policy or ACL grant (plus, when authenticated, their own IAM allowing it).
 * `objectAcl` is consulted for object reads when given.
 */
export async function authorize(c: S3Ctx, action: string, bucket: Bucket | undefined, opts: { key?: string; objectAcl?: string; extra?: Record<string, string> } = {}): Promise<void> {
  const resource = arnOf(bucket?.name, opts.key);
  const who = c.principal;
  const context: Record<string, string> = {
    'aws:SourceIp': c.sourceIp, 'aws:SecureTransport': 'false', 'aws:CurrentTime': new Date().toISOString(),
    ...(who ? { 'aws:userid': who.userId, 'aws:username': who.userId, 'aws:PrincipalAccount': who.projectId } : {}), ...opts.extra,
  };
  if (!bucket) {
    if (!who) throw new S3Error('AccessDenied');
    const d = await c.identity.authorize(who, action, resource, context);
    if (d !== 'allow') throw new S3Error('AccessDenied');
    return;
  }
  const pol = evaluatePolicy(bucket.config.policy, who, action, resource, context);
  if (pol === 'deny') throw new S3Error('AccessDenied');
  const idd = who ? await c.identity.authorize(who, action, resource, context) : 'implicit-deny';
  if (idd === 'deny') throw new S3Error('AccessDenied');
  if (who && who.projectId === bucket.projectId) {
    if (idd === 'allow' || pol === 'allow') return;
    throw new S3Error('AccessDenied');
  }
  const granted = pol === 'allow' || aclAllows(bucket.acl, 'bucket', action, who) || (opts.objectAcl !== undefined && aclAllows(opts.objectAcl as Bucket['acl'], 'object', action, who));
  if (!granted) throw new S3Error('AccessDenied');
  if (who && idd !== 'allow') throw new S3Error('AccessDenied');
}

/** Is the caller allowed without looking at an object ACL? (used to decide whether NoSuchKey may be revealed) */
export async function allowed(c: S3Ctx, action: string, bucket: Bucket, opts: { key?: string; objectAcl?: string } = {}): Promise<boolean> {
  try { await authorize(c, action, bucket, opts); return true; } catch (e) { if (e instanceof S3Error && e.code === 'AccessDenied') return false; throw e; }
}

/** SSE-C customer key headers (for reads: x-amz-server-side-encryption-customer-*; for copy sources: x-amz-copy-source-…). */
export function customerKey(c: S3Ctx, prefix = 'x-amz-server-side-encryption-customer-'): SseRequest | undefined {
  const alg = header(c, `${prefix}algorithm`);
  const key = header(c, `${prefix}key`);
  const md5 = header(c, `${prefix}key-md5`);
  if (!alg && !key && !md5) return undefined;
  if (alg !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', 'The encryption request you specified is not valid. The valid value is AES256.', { ArgumentName: `${prefix}algorithm`, ArgumentValue: alg ?? 'null' });
  if (!key) throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', { ArgumentName: `${prefix}key`, ArgumentValue: 'null' });
  const k = Buffer.from(key, 'base64');
  if (k.length !== 32) throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', { ArgumentName: `${prefix}key`, ArgumentValue: 'null' });
  const computed = createHash('md5').update(k).digest('base64');
  if (!md5) throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', { ArgumentName: `${prefix}key-MD5`, ArgumentValue: 'null' });
  if (md5 !== computed) throw new S3Error('InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', { ArgumentName: `${prefix}key-MD5`, ArgumentValue: md5 });
  return { type: 'C', key: k, keyMd5: computed };
}

/**
 * Loads the addressed bucket or throws NoSuchBucket. `cached`: through the
 * engine's short bucket cache (object GET/PUT; counters may be stale).
 */
export async function loadBucket(c: S3Ctx, cached = false): Promise<Bucket> {
  const b = await (cached ? c.engine.buckets.getBucketCached : c.engine.buckets.getBucket)(c.ec, c.bucket!);
  if (!b) throw new S3Error('NoSuchBucket', undefined, { BucketName: c.bucket! });
  return b;
}
