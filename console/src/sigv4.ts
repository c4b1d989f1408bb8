/**
 * AWS Signature Version 4 for S3 in the browser (WebCrypto), header-signed
 * requests and presigned URLs. Payloads are sent as UNSIGNED-PAYLOAD (the
 * transport is the console's own origin; S3 still checks the signature).
 */
export interface Credentials { accessKeyId: string; secretAccessKey: string; region: string }

const enc = new TextEncoder();
const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const sha256 = async (s: string) => hex(await crypto.subtle.digest('SHA-256', enc.encode(s)));
async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(data));
}

/** RFC 3986 encoding as S3 wants it; `/` kept in paths. */
export function uriEncode(s: string, keepSlash = false): string {
  return [...enc.encode(s)].map((b) => {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
    return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

function amzDate(now: Date): { date: string; stamp: string } {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return { date: stamp.slice(0, 8), stamp };
}

async function signingKey(c: Credentials, date: string): Promise<ArrayBuffer> {
  const kDate = await hmac(enc.encode(`AWS4${c.secretAccessKey}`), date);
  const kRegion = await hmac(kDate, c.region);
  const kService = await hmac(kRegion, 's3');
  return hmac(kService, 'aws4_request');
}

const canonicalQuery = (q: [string, string][]) => [...q].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
  .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');

/**
 * Signs a request for `host` (the S3 endpoint's host:port) and path
 * (`/bucket/key`, not yet encoded). Returns the headers to send.
 */
export async function signHeaders(c: Credentials, o: { method: string; host: string; path: string; query?: [string, string][]; headers?: Record<string, string>; now?: Date }): Promise<Record<string, string>> {
  const { date, stamp } = amzDate(o.now ?? new Date());
  const headers: Record<string, string> = { ...(o.headers ?? {}), host: o.host, 'x-amz-date': stamp, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const scope = `${date}/${c.region}/s3/aws4_request`;
  const creq = [o.method, uriEncode(o.path, true), canonicalQuery(o.query ?? []), ...names.map((n) => `${n}:${lower[n]}`), '', names.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['AWS4-HMAC-SHA256', stamp, scope, await sha256(creq)].join('\n');
  const sig = hex(await hmac(await signingKey(c, date), sts));
  const { host: _host, ...rest } = headers;
  return { ...rest, authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}` };
}

/**
 * Query-string auth for `host` (the S3 endpoint's host:port), valid
 * `expires` seconds: returns the encoded path and query to put after any base.
 */
export async function presign(c: Credentials, o: { method: string; host: string; path: string; expires: number; query?: [string, string][]; now?: Date }): Promise<string> {
  const { date, stamp } = amzDate(o.now ?? new Date());
  const host = o.host;
  const scope = `${date}/${c.region}/s3/aws4_request`;
  const q: [string, string][] = [...(o.query ?? []),
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'], ['X-Amz-Credential', `${c.accessKeyId}/${scope}`], ['X-Amz-Date', stamp],
    ['X-Amz-Expires', String(o.expires)], ['X-Amz-SignedHeaders', 'host']];
  const creq = [o.method, uriEncode(o.path, true), canonicalQuery(q), `host:${host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['AWS4-HMAC-SHA256', stamp, scope, await sha256(creq)].join('\n');
  const sig = hex(await hmac(await signingKey(c, date), sts));
  return `${uriEncode(o.path, true)}?${canonicalQuery(q)}&X-Amz-Signature=${sig}`;
}
