/** GetObject and HeadObject: ranges, part numbers, conditionals, response overrides, verified streaming. */
import { BlobCorrupt } from '../../engine/blobcodec.ts';
import type { ObjectVersion } from '../../engine/types.ts';
import { allowed, authorize, customerKey, header, loadBucket, send, type S3Ctx } from '../context.ts';
import { S3Error } from '../errors.ts';
import { checkConditions, objectHeaders, parseRange, versionIdParam } from './common.ts';
import { corsHeaders } from './bucket-cors.ts';
import type { S3Command } from './types.ts';

const OVERRIDES: [string, string][] = [
  ['response-content-type', 'content-type'], ['response-content-language', 'content-language'], ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'], ['response-content-disposition', 'content-disposition'], ['response-content-encoding', 'content-encoding'],
];

async function resolve(c: S3Ctx, head: boolean) {
  const b = await loadBucket(c, true);
  const vid = versionIdParam(c);
  const action = vid ? 's3:GetObjectVersion' : 's3:GetObject';
  let v: ObjectVersion;
  try {
    v = await c.engine.objects.getVersion(c.ec, b.name, c.key!, vid);
  } catch (e) {
    // Without list permission a missing key must look like AccessDenied.
    if (e instanceof S3Error && (e.code === 'NoSuchKey' || e.code === 'NoSuchVersion') && !(await allowed(c, 's3:ListBucket', b))) {
      await authorize(c, action, b, { key: c.key });
      if (!(await allowed(c, 's3:ListBucket', b))) throw new S3Error('AccessDenied');
    }
    if (head && e instanceof S3Error && e.code === 'MethodNotAllowed') throw new S3Error('MethodNotAllowed', undefined, {}, e.headers);
    throw e;
  }
  await authorize(c, action, b, { key: c.key, objectAcl: v.acl });
  return { b, v };
}

async function handle(c: S3Ctx, head: boolean) {
  const { b, v } = await resolve(c, head);
  const customer = customerKey(c);
  c.engine.objects.checkSseAccess(c.ec, v, customer);
  if (v.meta.sse === 'AES256' && customer) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
  const h = { ...objectHeaders(v, b, { checksumMode: header(c, 'x-amz-checksum-mode') === 'ENABLED' }), ...corsHeaders(b, c) };
  if (checkConditions(c, v.etag, v.mtimeMs) === 'not-modified') {
    const nm: Record<string, string | number> = { etag: v.etag, 'last-modified': h['last-modified']! };
    if (h['x-amz-version-id']) nm['x-amz-version-id'] = h['x-amz-version-id'];
    c.res.writeHead(304, { 'x-amz-request-id': c.requestId, 'x-amz-id-2': c.requestId, ...nm });
    c.res.end();
    return;
  }
  for (const [q, hn] of OVERRIDES) {
    const val = c.query.get(q);
    if (val === undefined) continue;
    if (!c.principal) throw new S3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    h[hn] = val;
  }
  let start = 0;
  let end = v.size - 1;
  let status = 200;
  const pn = c.query.get('partNumber');
  if (pn !== undefined) {
    if (header(c, 'range')) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    const n = Number(pn);
    if (!/^\d+$/.test(pn) || n < 1 || n > 10000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: pn });
    const parts = v.meta.parts;
    if (parts) {
      if (n > parts.length) throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable');
      start = parts.slice(0, n - 1).reduce((a, p) => a + p.size, 0);
      end = start + parts[n - 1]!.size - 1;
      h['x-amz-mp-parts-count'] = parts.length;
      status = 206;
    } else if (n !== 1) throw new S3Error('InvalidRange', 'The requested partnumber is not satisfiable');
    if (status === 206) h['content-range'] = `bytes ${start}-${end}/${v.size}`;
  } else {
    let r: { start: number; end: number } | undefined;
    try { r = parseRange(header(c, 'range'), v.size); } catch (e) {
      if (e instanceof S3Error && e.code === 'InvalidRange') throw new S3Error('InvalidRange', undefined, e.extra, { 'content-range': `bytes */${v.size}` });
      throw e;
    }
    if (r) { start = r.start; end = r.end; status = 206; h['content-range'] = `bytes ${start}-${end}/${v.size}`; }
  }
  if (status === 206) {
    // A checksum of the whole object must not describe a partial body.
    for (const k of Object.keys(h)) if (k.startsWith('x-amz-checksum-')) delete h[k];
  }
  const length = v.size === 0 ? 0 : end - start + 1;
  h['content-length'] = length;
  if (head || length === 0) {
    c.res.writeHead(status, { 'x-amz-request-id': c.requestId, 'x-amz-id-2': c.requestId, server: 'yun', ...h });
    c.res.end();
    return;
  }
  const gen = c.engine.objects.readObject(c.ec, v, start, end + 1, customer);
  // The first segment batch is read and verified before any header leaves.
  let first: IteratorResult<Buffer>;
  try { first = await gen.next(); } catch (e) {
    if (e instanceof BlobCorrupt) { c.ec.identity.recordUsage?.(b.projectId, 'objects.corrupt_reads', 1); throw new S3Error('InternalError', 'The stored object failed its integrity check'); }
    throw e;
  }
  c.res.writeHead(status, { 'x-amz-request-id': c.requestId, 'x-amz-id-2': c.requestId, server: 'yun', ...h });
  if (!first.done && first.value.length === length) {
    // The whole body verified in one batch (small objects): headers and body leave in one write.
    c.res.end(first.value);
    await gen.return(undefined).catch(() => undefined);
    return;
  }
  try {
    let r = first;
    while (!r.done) {
      if (!c.res.write(r.value)) {
        await drainOrClose(c.res);
        if (c.res.destroyed) break;
      }
      r = await gen.next();
    }
    if (c.res.destroyed) await gen.return(undefined).catch(() => undefined);
    else c.res.end();
  } catch (e) {
    // Headers are gone: the only honest signal left is a broken connection.
    c.res.destroy(e as Error);
    await gen.return(undefined).catch(() => undefined);
  }
}

/** Waits for 'drain' or 'close', whichever first, without leaving listeners behind. */
function drainOrClose(res: S3Ctx['res']): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}

export const GetObject: S3Command = { name: 'GetObject', method: 'GET', target: 'object', handle: (c) => handle(c, false) };
export const HeadObject: S3Command = { name: 'HeadObject', method: 'HEAD', target: 'object', handle: (c) => handle(c, true) };

export { send };
