/**
 * AWS Signature Version 4: the canonical request, string to sign, signing key
 * and signature, shared by the server-side verifier (auth.ts), the streaming
 * chunk verifier (chunked.ts) and the client signer the CLI/SDK/bench use.
 * S3 does not normalise paths and does not double-encode them; `normalizePath`
 * exists for other services (and the generic test vectors).
 */
import { createHash, createHmac } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export const sha256hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PLAIN = /^[A-Za-z0-9\-._~]*$/;
const PLAIN_PATH = /^[A-Za-z0-9\-._~/]*$/;
const HEX = '0123456789ABCDEF';

/** RFC 3986 encoding as SigV4 defines it: every byte except unreserved, `/` kept when `keepSlash`. */
export function uriEncode(s: string, keepSlash: boolean): string {
  if ((keepSlash ? PLAIN_PATH : PLAIN).test(s)) return s; // nothing to encode (most paths and query values)
  let out = '';
  for (const ch of s) {
    if ((ch.length === 1 && UNRESERVED.test(ch)) || (keepSlash && ch === '/')) { out += ch; continue; }
    for (const b of Buffer.from(ch, 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Percent-decoding that never throws (invalid sequences stay literal). */
export function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try { return decodeURIComponent(s); } catch {
    return s.replace(/(%[0-9A-Fa-f]{2})+/g, (m) => { try { return decodeURIComponent(m); } catch { return m; } });
  }
}

/** Removes `.`/`..` segments and collapses repeated slashes (non-S3 services only). */
export function normalizePath(p: string): string {
  const segs: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segs.pop(); else segs.push(seg);
  }
  const trailing = p.length > 1 && p.endsWith('/') && segs.length > 0;
  return `/${segs.join('/')}${trailing ? '/' : ''}`;
}

/** Canonical URI from the raw (as-sent) request path. */
export function canonicalUri(rawPath: string, normalize = false): string {
  const decoded = safeDecode(rawPath);
  const p = normalize ? normalizePath(decoded) : decoded;
  return uriEncode(p || '/', true);
}

/** Splits a raw query string into decoded [key, value] pairs, in order. */
export function parseQuery(raw: string): [string, string][] {
  const out: [string, string][] = [];
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([safeDecode(k), safeDecode(v)]);
  }
  return out;
}

export function canonicalQuery(pairs: readonly [string, string][], exclude?: string): string {
  const enc = pairs.filter(([k]) => k !== exclude).map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const);
  enc.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return enc.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header values as SigV4 canonicalises them: trimmed, inner whitespace runs collapsed. */
export const canonicalHeaderValue = (v: string): string => v.trim().replace(/\s+/g, ' ');

/** Header map: lowercase name → values in the order they appeared. */
export type HeaderMap = Map<string, string[]>;

export function headerMapFromRaw(raw: readonly string[]): HeaderMap {
  const m: HeaderMap = new Map();
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    const list = m.get(k);
    if (list) list.push(raw[i + 1]!); else m.set(k, [raw[i + 1]!]);
  }
  return m;
}

export function canonicalHeaders(headers: HeaderMap, signed: readonly string[]): string {
  let out = '';
  for (const name of signed) {
    const vals = headers.get(name) ?? [];
    out += `${name}:${vals.map(canonicalHeaderValue).join(',')}\n`;
  }
  return out;
}

export interface CanonicalRequestInput {
  method: string;
  /** Raw path as sent on the wire (percent-encoded or not). */
  rawPath: string;
  query: readonly [string, string][];
  headers: HeaderMap;
  signedHeaders: readonly string[];
  payloadHash: string;
  normalize?: boolean;
  /** Query key left out of the canonical query (X-Amz-Signature for presigned URLs). */
  excludeQuery?: string;
}

export function canonicalRequest(i: CanonicalRequestInput): string {
  return [
    i.method,
    canonicalUri(i.rawPath, i.normalize),
    canonicalQuery(i.query, i.excludeQuery),
    canonicalHeaders(i.headers, i.signedHeaders),
    i.signedHeaders.join(';'),
    i.payloadHash,
  ].join('\n');
}

export const scopeOf = (date: string, region: string, service: string) => `${date}/${region}/${service}/aws4_request`;

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256hex(canonical)}`;
}

/**
 * Signing keys are derived per (secret, day, region, service); a small cache
 * keeps the four HMACs off the hot path. Owned by whoever creates it.
 */
export class SigningKeyCache {
  private readonly map = new Map<string, Buffer>();
  get(secret: string, date: string, region: string, service: string): Buffer {
    const k = `${secret}\0${date}\0${region}\0${service}`;
    let v = this.map.get(k);
    if (!v) {
      v = signingKey(secret, date, region, service);
      if (this.map.size > 1000) this.map.clear();
      this.map.set(k, v);
    }
    return v;
  }
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export const signHex = (key: Buffer, sts: string): string => createHmac('sha256', key).update(sts, 'utf8').digest('hex');

/** `20150830T123600Z` from a Date. */
export const amzDate = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** Parses `YYYYMMDDTHHMMSSZ` (or an RFC 7231 date) to epoch ms; NaN when invalid. */
export function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m) return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Date.parse(s);
}

export interface Credentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

export interface SignRequestInput {
  method: string;
  /** Full URL, e.g. http://127.0.0.1:8401/bucket/key?uploads */
  url: string | URL;
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, UNSIGNED-PAYLOAD, or a streaming marker; defaults to the hash of `body` (or empty). */
  payloadHash?: string;
  body?: string | Buffer;
  region: string;
  service?: string;
  credentials: Credentials;
  date?: Date;
  /** Also sign these extra headers beyond host and x-amz-* (content-type, content-md5 are always signed when present). */
  normalize?: boolean;
}

export interface SignedRequest {
  /** Headers to send (includes host, x-amz-date, x-amz-content-sha256, authorization). */
  headers: Record<string, string>;
  signature: string;
  canonicalRequest: string;
  stringToSign: string;
}

function rawPathAndQuery(url: URL): { rawPath: string; rawQuery: string } {
  return { rawPath: url.pathname, rawQuery: url.search.startsWith('?') ? url.search.slice(1) : url.search };
}

/** Signs a request in the Authorization header (what the CLI and bench client use). */
export function signRequest(i: SignRequestInput): SignedRequest {
  const url = typeof i.url === 'string' ? new URL(i.url) : i.url;
  const service = i.service ?? 's3';
  const date = i.date ?? new Date();
  const ad = amzDate(date);
  const payloadHash = i.payloadHash ?? sha256hex(i.body ?? '');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(i.headers ?? {})) out[k.toLowerCase()] = v;
  if (!out.host) out.host = url.host;
  out['x-amz-date'] = ad;
  if (service === 's3') out['x-amz-content-sha256'] = payloadHash;
  if (i.credentials.sessionToken) out['x-amz-security-token'] = i.credentials.sessionToken;
  const map: HeaderMap = new Map(Object.entries(out).map(([k, v]) => [k, [v]]));
  const signed = [...map.keys()].filter((k) => k !== 'authorization' && k !== 'content-length' && k !== 'user-agent' && k !== 'expect').sort();
  const { rawPath, rawQuery } = rawPathAndQuery(url);
  const scope = scopeOf(ad.slice(0, 8), i.region, service);
  const creq = canonicalRequest({ method: i.method.toUpperCase(), rawPath, query: parseQuery(rawQuery), headers: map, signedHeaders: signed, payloadHash, normalize: i.normalize ?? service !== 's3' });
  const sts = stringToSign(ad, scope, creq);
  const signature = signHex(signingKey(i.credentials.secretAccessKey, ad.slice(0, 8), i.region, service), sts);
  out.authorization = `${ALGORITHM} Credential=${i.credentials.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return { headers: out, signature, canonicalRequest: creq, stringToSign: sts };
}

export interface PresignInput {
  method: string;
  url: string | URL;
  region: string;
  service?: string;
  credentials: Credentials;
  /** Seconds, 1..604800. */
  expiresIn: number;
  date?: Date;
  headers?: Record<string, string>;
}

/** Builds a presigned URL (query-string auth, UNSIGNED-PAYLOAD). */
export function presignUrl(i: PresignInput): string {
  const url = new URL(typeof i.url === 'string' ? i.url : i.url.href);
  const service = i.service ?? 's3';
  const ad = amzDate(i.date ?? new Date());
  const scope = scopeOf(ad.slice(0, 8), i.region, service);
  const hdrs: Record<string, string> = { host: url.host };
  for (const [k, v] of Object.entries(i.headers ?? {})) hdrs[k.toLowerCase()] = v;
  const signed = Object.keys(hdrs).sort();
  const extra: [string, string][] = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${i.credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', ad],
    ['X-Amz-Expires', String(i.expiresIn)],
    ['X-Amz-SignedHeaders', signed.join(';')],
  ];
  if (i.credentials.sessionToken) extra.push(['X-Amz-Security-Token', i.credentials.sessionToken]);
  const existing = parseQuery(url.search.slice(1));
  const pairs = [...existing, ...extra];
  const map: HeaderMap = new Map(Object.entries(hdrs).map(([k, v]) => [k, [v]]));
  const creq = canonicalRequest({ method: i.method.toUpperCase(), rawPath: url.pathname, query: pairs, headers: map, signedHeaders: signed, payloadHash: UNSIGNED_PAYLOAD, normalize: service !== 's3' });
  const sig = signHex(signingKey(i.credentials.secretAccessKey, ad.slice(0, 8), i.region, service), stringToSign(ad, scope, creq));
  const qs = [...pairs, ['X-Amz-Signature', sig] as [string, string]].map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`).join('&');
  return `${url.origin}${url.pathname}?${qs}`;
}

/** Signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export function chunkSignature(key: Buffer, amzDateStr: string, scope: string, prevSig: string, chunkHash: string): string {
  return signHex(key, `AWS4-HMAC-SHA256-PAYLOAD\n${amzDateStr}\n${scope}\n${prevSig}\n${EMPTY_SHA256}\n${chunkHash}`);
}

/** Signature over the trailing headers of a signed streaming upload. */
export function trailerSignature(key: Buffer, amzDateStr: string, scope: string, prevSig: string, trailerText: string): string {
  return signHex(key, `AWS4-HMAC-SHA256-TRAILER\n${amzDateStr}\n${scope}\n${prevSig}\n${sha256hex(trailerText)}`);
}
