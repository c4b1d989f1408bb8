/** CORS configuration and real preflight (OPTIONS) handling. */
import type { Bucket, CorsRule } from '../../engine/types.ts';
import { authorize, header, loadBucket, readBody, send, sendXml, type S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { asArray, parseXml, text, xmlDoc, type XNode } from '../xml.ts';
import { contentMd5 } from './common.ts';
import type { S3Command } from './types.ts';

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];

export const GetBucketCors: S3Command = {
  name: 'GetBucketCors', method: 'GET', target: 'bucket', query: ['cors'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:GetBucketCORS', b);
    if (!b.config.cors?.length) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: b.name });
    sendXml(c, 200, xmlDoc('CORSConfiguration', b.config.cors.map((r) => ['CORSRule', [
      r.id !== undefined ? ['ID', r.id] : undefined,
      ...r.allowedHeaders.map((h) => ['AllowedHeader', h] as XNode),
      ...r.allowedMethods.map((m) => ['AllowedMethod', m] as XNode),
      ...r.allowedOrigins.map((o) => ['AllowedOrigin', o] as XNode),
      ...r.exposeHeaders.map((h) => ['ExposeHeader', h] as XNode),
      r.maxAgeSeconds !== undefined ? ['MaxAgeSeconds', r.maxAgeSeconds] : undefined,
    ]])));
  },
};

export const PutBucketCors: S3Command = {
  name: 'PutBucketCors', method: 'PUT', target: 'bucket', query: ['cors'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketCORS', b);
    contentMd5(c);
    const doc = parseXml(await readBody(c, 64 * 1024), 'CORSConfiguration');
    const rules: CorsRule[] = asArray(doc.CORSRule as Record<string, unknown>[] | undefined).map((r) => ({
      id: text(r.ID),
      allowedOrigins: asArray(r.AllowedOrigin as string[]).map(String),
      allowedMethods: asArray(r.AllowedMethod as string[]).map(String),
      allowedHeaders: asArray(r.AllowedHeader as string[]).map(String),
      exposeHeaders: asArray(r.ExposeHeader as string[]).map(String),
      maxAgeSeconds: r.MaxAgeSeconds !== undefined ? Number(text(r.MaxAgeSeconds)) : undefined,
    }));
    if (rules.length === 0 || rules.length > 100) throw new S3Error('MalformedXML');
    for (const r of rules) {
      if (!r.allowedOrigins.length || !r.allowedMethods.length) throw new S3Error('MalformedXML');
      for (const m of r.allowedMethods) if (!METHODS.includes(m)) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    }
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => ({ ...cfg, cors: rules }));
    send(c, 200);
  },
};

export const DeleteBucketCors: S3Command = {
  name: 'DeleteBucketCors', method: 'DELETE', target: 'bucket', query: ['cors'],
  async handle(c) {
    const b = await loadBucket(c);
    await authorize(c, 's3:PutBucketCORS', b);
    await c.engine.buckets.updateBucketConfig(c.ec, b.name, (cfg) => { const { cors: _c, ...rest } = cfg; return rest; });
    send(c, 204);
  },
};

const wild = (pattern: string, v: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(v);

export function matchCors(b: Bucket, origin: string, method: string, reqHeaders: string[]): CorsRule | undefined {
  for (const r of b.config.cors ?? []) {
    if (!r.allowedOrigins.some((o) => wild(o, origin))) continue;
    if (!r.allowedMethods.includes(method)) continue;
    if (!reqHeaders.every((h) => r.allowedHeaders.some((a) => wild(a, h)))) continue;
    return r;
  }
  return undefined;
}

/** CORS response headers for an actual (non-preflight) request with an Origin. */
export function corsHeaders(b: Bucket, c: S3Ctx): Record<string, string> {
  const origin = header(c, 'origin');
  if (!origin || !b.config.cors) return {};
  const r = matchCors(b, origin, c.req.method ?? 'GET', []);
  if (!r) return {};
  const h: Record<string, string> = {
    'access-control-allow-origin': r.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': r.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (r.exposeHeaders.length) h['access-control-expose-headers'] = r.exposeHeaders.join(', ');
  if (r.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(r.maxAgeSeconds);
  if (!r.allowedOrigins.includes('*')) h['access-control-allow-credentials'] = 'true';
  return h;
}

async function preflight(c: S3Ctx) {
  const origin = header(c, 'origin');
  const method = header(c, 'access-control-request-method');
  if (!origin) throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
  if (!method) throw new S3Error('InvalidRequest', 'Invalid Access-Control-Request-Method header');
  const b = await loadBucket(c);
  const reqHeaders = (header(c, 'access-control-request-headers') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const r = matchCors(b, origin, method, reqHeaders);
  if (!r) throw new S3Error('AccessDenied', 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.');
  const h: Record<string, string> = {
    'access-control-allow-origin': r.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': r.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (reqHeaders.length) h['access-control-allow-headers'] = reqHeaders.join(', ');
  if (r.exposeHeaders.length) h['access-control-expose-headers'] = r.exposeHeaders.join(', ');
  if (r.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(r.maxAgeSeconds);
  if (!r.allowedOrigins.includes('*')) h['access-control-allow-credentials'] = 'true';
  send(c, 200, h);
}

export const OptionsBucket: S3Command = { name: 'OPTIONS', method: 'OPTIONS', target: 'bucket', handle: preflight };
export const OptionsObject: S3Command = { name: 'OPTIONS', method: 'OPTIONS', target: 'object', handle: preflight };
