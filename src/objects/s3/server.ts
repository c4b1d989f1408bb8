/**
 * The S3 HTTP edge over node:http: addressing (path and virtual-hosted
 * style), authentication, routing to one command per operation, and the one
 * place errors become S3 XML.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomToken } from '../../core/ids.ts';
import type { ObjectEngine } from '../engine/index.ts';
import type { ObjectIdentity } from '../identity.ts';
import { authenticate } from './auth.ts';
import { route, UNSUPPORTED_SUBRESOURCES } from './commands/index.ts';
import type { S3Ctx } from './context.ts';
import { S3Error, toS3Error } from './errors.ts';
import { headerMapFromRaw, parseQuery, SigningKeyCache, safeDecode } from './sigv4.ts';
import { xmlDoc } from './xml.ts';

export interface S3HandlerOptions {
  engine: ObjectEngine;
  identity: ObjectIdentity;
  region: string;
  /** Virtual-hosted style base domain: `<bucket>.<baseDomain>`. */
  baseDomain?: string;
  logger?: { error(obj: unknown, msg?: string): void; debug?(obj: unknown, msg?: string): void };
  now?: () => number;
}

export type S3Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function createS3Handler(o: S3HandlerOptions): S3Handler {
  const keys = new SigningKeyCache();
  const now = o.now ?? Date.now;
  const baseDomain = o.baseDomain?.toLowerCase();

  function address(req: IncomingMessage, rawPath: string): { bucket?: string; key?: string; vhost?: boolean } {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    let path = rawPath;
    let bucket: string | undefined;
    if (baseDomain && host.endsWith(`.${baseDomain}`)) bucket = host.slice(0, -(baseDomain.length + 1));
    if (bucket === undefined) {
      const p = path.replace(/^\//, '');
      if (p === '') return {};
      const slash = p.indexOf('/');
      bucket = safeDecode(slash < 0 ? p : p.slice(0, slash));
      path = slash < 0 ? '' : p.slice(slash);
    }
    const keyRaw = path.replace(/^\//, '');
    return { bucket, key: keyRaw === '' ? undefined : safeDecode(keyRaw), vhost: path === rawPath };
  }

  function sendError(c: Pick<S3Ctx, 'req' | 'res' | 'requestId' | 'bodyConsumed'>, e: S3Error, resource: string) {
    const res = c.res;
    if (res.headersSent) { res.destroy(); return; }
    const extra = Object.entries(e.extra).map(([k, v]) => [k, v] as [string, string]);
    const xml = xmlDoc('Error', [['Code', e.code], ['Message', e.message], ...extra, ['Resource', resource], ['RequestId', c.requestId], ['HostId', c.requestId]], null);
    const headers: Record<string, string | number> = { 'x-amz-request-id': c.requestId, 'x-amz-id-2': c.requestId, server: 'yun', ...e.headers };
    const isHead = c.req.method === 'HEAD';
    const pending = !c.bodyConsumed && !c.req.readableEnded && (c.req.headers['content-length'] !== '0' && (c.req.headers['content-length'] !== undefined || c.req.headers['transfer-encoding'] !== undefined));
    if (pending) headers.connection = 'close';
    if (e.status === 304 || isHead) {
      res.writeHead(e.status, { ...headers, 'content-length': 0 });
      res.end();
    } else {
      res.writeHead(e.status, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
      res.end(xml);
    }
    if (pending) {
      // Let the client finish sending a small body; a large one is cut off once the response is out.
      const len = Number(c.req.headers['content-length'] ?? Number.POSITIVE_INFINITY);
      if (len <= 1024 * 1024) c.req.resume();
      else res.once('finish', () => setTimeout(() => c.req.destroy(), 50));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string) {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    const pairs = parseQuery(rawQuery);
    const query = new Map<string, string>();
    for (const [k, v] of pairs) if (!query.has(k)) query.set(k, v);
    const c: S3Ctx = {
      req, res, engine: o.engine, ec: o.engine.ctx, identity: o.identity, region: o.region, requestId, query,
      payload: { kind: 'unsigned' }, trailers: { trailers: new Map() }, bodyConsumed: false, sourceIp: req.socket.remoteAddress ?? '',
    };
    let resource = rawPath;
    try {
      const { bucket, key, vhost } = address(req, rawPath);
      c.bucket = bucket;
      c.key = key;
      resource = bucket === undefined ? '/' : key === undefined ? `/${bucket}` : `/${bucket}/${key}`;
      const method = req.method ?? 'GET';
      if (method !== 'OPTIONS') {
        const auth = await authenticate({ method, rawPath, query: pairs, headers: headerMapFromRaw(req.rawHeaders), vhostBucket: vhost ? bucket : undefined }, { identity: o.identity, region: o.region, keys, now });
        c.principal = auth.principal;
        c.payload = auth.payload;
      }
      const target = bucket === undefined ? 'service' : key === undefined ? 'bucket' : 'object';
      if (c.principal && o.identity.recordUsage) meter(o.identity.recordUsage, c, method, target, bucket ?? '');
      const cmd = route(method, target, query, req.headers);
      if (!cmd) {
        if (UNSUPPORTED_SUBRESOURCES.some((s) => query.has(s))) throw new S3Error('NotImplemented');
        throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: target === 'object' ? 'OBJECT' : target === 'bucket' ? 'BUCKET' : 'SERVICE' });
      }
      await cmd.handle(c);
    } catch (err) {
      const e = toS3Error(err);
      if (e.status >= 500 && o.logger) o.logger.error({ err, requestId, method: req.method, url: req.url }, 's3 request failed');
      sendError(c, e, resource);
    }
  }

  /** Bills the requester's project: one request (class from method and target) and the bytes sent back. */
  function meter(record: NonNullable<ObjectIdentity['recordUsage']>, c: S3Ctx, method: string, target: string, bucket: string): void {
    const project = c.principal!.projectId;
    const op = method === 'GET' && target !== 'object' ? 'ListObjects' : undefined;
    record(project, 's3.request', 1, { bucket, method, ...(op ? { op } : {}) });
    if (method !== 'GET') return;
    // Count body bytes as they are written (headers given to writeHead are not readable later).
    let sent = 0;
    const res = c.res;
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') sent += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) sent += chunk.byteLength;
    };
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
    res.write = ((chunk: unknown, ...rest: unknown[]) => { count(chunk); return write(chunk, ...rest); }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => { if (typeof chunk !== 'function') count(chunk); return end(chunk, ...rest); }) as typeof res.end;
    res.once('finish', () => {
      if (res.statusCode < 300 && sent > 0) record(project, 's3.bytes_out', sent, { bucket });
    });
  }

  // Request ids: a random per-handler prefix and a counter (unique, cheap, sortable per process).
  const idPrefix = randomToken(6).toUpperCase();
  let seq = 0;
  return (req, res) => {
    const requestId = `${idPrefix}${(seq++).toString(36).toUpperCase().padStart(10, '0')}`;
    handle(req, res, requestId).catch((err) => {
      o.logger?.error({ err, requestId }, 's3 handler crashed');
      if (!res.headersSent) { res.writeHead(500); res.end(); } else res.destroy();
    });
  };
}
