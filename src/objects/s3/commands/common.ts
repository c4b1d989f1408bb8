/** Helpers shared by object commands: metadata headers, ranges, conditionals, SSE and checksum request headers. */
import type { Bucket, CannedAcl, ObjectMeta, ObjectVersion, SseRequest, Tag } from '../../engine/types.ts';
import { type ChecksumAlgorithm, CHECKSUM_ALGORITHMS, checksumHeader, checksumLength, parseAlgorithm } from '../../engine/checksums.ts';
import { etagMatches } from '../../engine/write.ts';
import { customerKey, header, type S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { CANNED_ACLS } from '../policy.ts';
import type { XNode } from '../xml.ts';
import { safeDecode } from '../sigv4.ts';

export const httpDate = (ms: number) => new Date(ms).toUTCString();

export const ownerXml = (id: string, name: string): XNode => ['Owner', [['ID', id], ['DisplayName', name]]];

const MAX_META = 2048;

/** Content headers and x-amz-meta-* from a request. */
export function metaFromRequest(c: S3Ctx): ObjectMeta {
  const user: Record<string, string> = {};
  let size = 0;
  for (let i = 0; i < c.req.rawHeaders.length; i += 2) {
    const k = c.req.rawHeaders[i]!.toLowerCase();
    if (!k.startsWith('x-amz-meta-')) continue;
    const name = k.slice(11);
    const v = c.req.rawHeaders[i + 1]!;
    user[name] = user[name] !== undefined ? `${user[name]},${v}` : v;
    size += name.length + v.length;
  }
  if (size > MAX_META) throw new S3Error('MetadataTooLarge', undefined, { MaxSizeAllowed: String(MAX_META) });
  const m: ObjectMeta = { user };
  const set = (h: string, f: keyof ObjectMeta) => { const v = header(c, h); if (v !== undefined) (m as unknown as Record<string, string>)[f] = v; };
  set('content-type', 'contentType');
  set('content-disposition', 'contentDisposition');
  set('content-language', 'contentLanguage');
  set('cache-control', 'cacheControl');
  set('expires', 'expires');
  set('x-amz-website-redirect-location', 'websiteRedirect');
  const ce = header(c, 'content-encoding');
  if (ce !== undefined) {
    const rest = ce.split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked');
    if (rest.length) m.contentEncoding = rest.join(', ');
  }
  const sc = header(c, 'x-amz-storage-class');
  if (sc !== undefined) {
    if (!['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'OUTPOSTS', 'EXPRESS_ONEZONE', 'SNOW'].includes(sc)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: sc });
    if (sc !== 'STANDARD') m.storageClass = sc;
  }
  return m;
}

/** Headers describing a stored version (GET/HEAD). */
export function objectHeaders(v: ObjectVersion, b: Bucket, opts: { checksumMode?: boolean } = {}): Record<string, string | number> {
  const h: Record<string, string | number> = {
    'last-modified': httpDate(v.mtimeMs),
    etag: v.etag,
    'accept-ranges': 'bytes',
    'content-type': v.meta.contentType ?? 'binary/octet-stream',
  };
  if (b.versioning !== '' || v.versionId !== 'null') h['x-amz-version-id'] = v.versionId;
  if (v.meta.contentEncoding) h['content-encoding'] = v.meta.contentEncoding;
  if (v.meta.contentDisposition) h['content-disposition'] = v.meta.contentDisposition;
  if (v.meta.contentLanguage) h['content-language'] = v.meta.contentLanguage;
  if (v.meta.cacheControl) h['cache-control'] = v.meta.cacheControl;
  if (v.meta.expires) h.expires = v.meta.expires;
  if (v.meta.websiteRedirect) h['x-amz-website-redirect-location'] = v.meta.websiteRedirect;
  if (v.meta.storageClass) h['x-amz-storage-class'] = v.meta.storageClass;
  for (const [k, val] of Object.entries(v.meta.user)) h[`x-amz-meta-${k}`] = val;
  if (v.tags.length) h['x-amz-tagging-count'] = v.tags.length;
  if (v.meta.sse === 'AES256') h['x-amz-server-side-encryption'] = 'AES256';
  if (v.meta.sse === 'SSE-C') { h['x-amz-server-side-encryption-customer-algorithm'] = 'AES256'; h['x-amz-server-side-encryption-customer-key-md5'] = v.meta.sseCustomerKeyMd5 ?? ''; }
  if (opts.checksumMode && v.meta.checksum) {
    h[checksumHeader(v.meta.checksum.algorithm)] = v.meta.checksum.value;
    h['x-amz-checksum-type'] = v.meta.checksum.type;
  }
  return h;
}

/** Evaluates GET/HEAD preconditions: throws PreconditionFailed (412) or returns 'not-modified' (304). */
export function checkConditions(c: S3Ctx, etag: string, mtimeMs: number, prefix = ''): 'ok' | 'not-modified' {
  const ifMatch = header(c, `${prefix}if-match`);
  const ifNone = header(c, `${prefix}if-none-match`);
  const ims = header(c, `${prefix}if-modified-since`);
  const ius = header(c, `${prefix}if-unmodified-since`);
  const mtime = Math.floor(mtimeMs / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  } else if (ius !== undefined) {
    const t = Date.parse(ius);
    if (!Number.isNaN(t) && mtime > t) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Unmodified-Since' });
  }
  if (ifNone !== undefined) {
    if (etagMatches(ifNone, etag)) return 'not-modified';
  } else if (ims !== undefined) {
    const t = Date.parse(ims);
    if (!Number.isNaN(t) && mtime <= t) return 'not-modified';
  }
  return 'ok';
}

/** Parses a single byte range; undefined when absent or syntactically ignorable; InvalidRange when unsatisfiable. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) throw new S3Error('InvalidRange', undefined, { RangeRequested: h, ActualObjectSize: String(size) });
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
  }
  if (start >= size) throw new S3Error('InvalidRange', undefined, { RangeRequested: h, ActualObjectSize: String(size) });
  return { start, end };
}

export function cannedAcl(c: S3Ctx): CannedAcl | undefined {
  const a = header(c, 'x-amz-acl');
  if (a === undefined) return undefined;
  if (!(CANNED_ACLS as readonly string[]).includes(a)) {
    if (a === 'bucket-owner-full-control' || a === 'bucket-owner-read' || a === 'aws-exec-read' || a === 'log-delivery-write') return 'private';
    throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: a });
  }
  return a as CannedAcl;
}

/** Tags from the x-amz-tagging header (URL query encoded). */
export function tagsFromHeader(c: S3Ctx): Tag[] | undefined {
  const h = header(c, 'x-amz-tagging');
  if (h === undefined) return undefined;
  const tags: Tag[] = [];
  for (const part of h.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = safeDecode((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
    const v = safeDecode((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    tags.push({ key: k, value: v });
  }
  validateTags(tags);
  return tags;
}

export function validateTags(tags: Tag[], max = 10) {
  if (tags.length > max) throw new S3Error('InvalidTag', 'Object tags cannot be greater than 10');
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.key.length === 0 || t.key.length > 128) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (t.value.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (seen.has(t.key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(t.key);
  }
}

/** SSE requested for a write: SSE-C headers, x-amz-server-side-encryption, or the bucket default. */
export function sseForWrite(c: S3Ctx, b: Bucket): SseRequest | undefined {
  const ck = customerKey(c);
  const s = header(c, 'x-amz-server-side-encryption');
  if (ck && s) throw new S3Error('InvalidArgument', 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: s });
  if (ck) return ck;
  if (s !== undefined) {
    if (s !== 'AES256') {
      if (s === 'aws:kms' || s === 'aws:kms:dsse') throw new S3Error('NotImplemented', 'SSE-KMS is not supported by this endpoint; use AES256');
      throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', { ArgumentName: 'x-amz-server-side-encryption', ArgumentValue: s });
    }
    return { type: 'S3' };
  }
  if (b.config.encryption) return { type: 'S3' };
  return undefined;
}

export function sseResponseHeaders(sse: SseRequest | undefined): Record<string, string> {
  if (!sse) return {};
  if (sse.type === 'S3') return { 'x-amz-server-side-encryption': 'AES256' };
  return { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key-md5': sse.keyMd5 };
}

export interface ChecksumRequest { algorithm?: ChecksumAlgorithm; expected?: string | (() => string | undefined) }

/** Which additional checksum a write carries (header value, or a trailer named by x-amz-trailer). */
export function checksumRequest(c: S3Ctx): ChecksumRequest {
  for (const a of CHECKSUM_ALGORITHMS) {
    const v = header(c, checksumHeader(a));
    if (v !== undefined) {
      const raw = Buffer.from(v, 'base64');
      if (raw.length !== checksumLength(a) || raw.toString('base64') !== v) throw new S3Error('InvalidRequest', `Value for ${checksumHeader(a)} header is invalid.`);
      return { algorithm: a, expected: v };
    }
  }
  const trailer = header(c, 'x-amz-trailer');
  if (trailer) {
    const name = trailer.trim().toLowerCase();
    const a = parseAlgorithm(name.replace(/^x-amz-checksum-/, ''));
    if (!a || !name.startsWith('x-amz-checksum-')) throw new S3Error('InvalidRequest', 'The value specified in the x-amz-trailer header is not supported');
    return { algorithm: a, expected: () => {
      const v = c.trailers.trailers.get(name);
      if (v === undefined) throw new S3Error('InvalidRequest', `x-amz-trailer ${name} was declared but not sent`);
      return v;
    } };
  }
  const declared = header(c, 'x-amz-sdk-checksum-algorithm') ?? header(c, 'x-amz-checksum-algorithm');
  if (declared) {
    const a = parseAlgorithm(declared);
    if (!a) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]');
    return { algorithm: a };
  }
  return {};
}

export function contentMd5(c: S3Ctx): string | undefined {
  const v = header(c, 'content-md5');
  if (v === undefined) return undefined;
  const raw = Buffer.from(v, 'base64');
  if (raw.length !== 16 || raw.toString('base64') !== v.trim()) throw new S3Error('InvalidDigest', undefined, { 'Content-MD5': v });
  return v.trim();
}

/** Version id from ?versionId, or undefined. */
export const versionIdParam = (c: S3Ctx) => c.query.get('versionId');
