/**
 * Serves the built web console (`console/dist`, made by `npm run build:console`)
 * from the API server at `/`. Contract:
 * - `/v1/*`, `/healthz`, `/readyz` stay the API's: an unknown `/v1/...` path is
 *   still a problem+json 404, never the console's HTML.
 * - Hashed files under `/assets/` are cached for a year (`immutable`);
 *   `index.html` is revalidated every time, so a new build shows at once.
 * - Any other GET that is not a file answers `index.html` (SPA fallback), so
 *   console routes such as `/instances/web1` are bookmarkable.
 * - When the console was not built, `/` says how to build it (503) instead of 404.
 * The console authenticates with bearer tokens in a header (no cookies), so
 * no request it makes can be forged cross-site; pages also refuse framing.
 */
import { request as httpRequest } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { YunError } from '../core/errors.ts';
import { sendProblem } from '../api/problem.ts';

export interface ConsoleOptions {
  /** Folder holding the built console (`index.html`, `assets/`). */
  dist: string;
  /**
   * The S3 endpoint (`http://host:port`) the bucket browser talks to, asked
   * per request; undefined when this cloud has none. See `s3Tunnel`.
   */
  s3Endpoint?: () => string | undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.json': 'application/json', '.map': 'application/json', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The console talks only to its own origin (S3 too, through `/s3/`).
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** Where `npm run build:console` writes, relative to this source file. */
export function defaultConsoleDist(): string {
  return fileURLToPath(new URL('../../console/dist', import.meta.url));
}

const API_PREFIXES = ['/v1/', '/v1', '/healthz', '/readyz'];

/** A `buildApi({ extra })` hook that serves the console at `/`. */
export function consoleRoutes(o: ConsoleOptions): (app: FastifyInstance) => void {
  const root = normalize(o.dist);
  return (app) => {
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const path = decodeURIComponent(req.url.split('?')[0]!);
      if (API_PREFIXES.some((p) => path === p || (p.endsWith('/') && path.startsWith(p)))) {
        return sendProblem(req, reply, new YunError('NotFound', `no route ${req.method} ${path}`));
      }
      void reply.headers(SECURITY_HEADERS);
      const file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) return sendProblem(req, reply, new YunError('NotFound', `no file ${path}`));
      const st = await stat(file).catch(() => undefined);
      if (st?.isFile()) {
        const body = await readFile(file);
        const hashed = path.startsWith('/assets/');
        return reply
          .type(TYPES[extname(file)] ?? 'application/octet-stream')
          .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
          .send(body);
      }
      // A missing asset is a real 404 (a stale tab asking for an old hash), not the app shell.
      if (path.startsWith('/assets/')) return sendProblem(req, reply, new YunError('NotFound', `no file ${path}`));
      const index = await readFile(join(root, 'index.html')).catch(() => undefined);
      if (!index) {
        return reply.code(503).type('text/plain; charset=utf-8')
          .send('The yun console is not built. Run `npm run build:console`, then reload. The API is at /v1 (see /v1/openapi.json).\n');
      }
      return reply.type(TYPES['.html']!).header('cache-control', 'no-cache').send(index);
    };
    const opts = { config: { auth: false }, schema: { hide: true } };
    app.get('/', opts, handler);
    app.get('/*', opts, handler);
    if (o.s3Endpoint) s3Tunnel(app, o.s3Endpoint);
  };
}

const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/**
 * `/s3/<path>` → `<endpoint>/<path>`, bytes and headers unchanged except the
 * hop-by-hop ones and `Host`, which becomes the endpoint's. The browser signs
 * its S3 requests (SigV4) for the endpoint itself, so the S3 server checks
 * them exactly as if they came direct: this is a same-origin tunnel that
 * spares the console cross-origin (CORS) requests, not a second way in. It
 * adds no credentials and reaches nothing but the configured endpoint.
 * Request bodies stream through unparsed (no body limit here; S3 enforces its own).
 */
function s3Tunnel(app: FastifyInstance, endpoint: () => string | undefined): void {
  void app.register(async (s3) => {
    s3.removeAllContentTypeParsers();
    s3.addContentTypeParser('*', (_req, _payload, done) => done(null));
    s3.route({
      method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/s3/*', config: { auth: false }, schema: { hide: true },
      handler: (req, reply) => {
        const base = endpoint();
        if (!base) return sendProblem(req, reply, new YunError('NotFound', 'this cloud has no S3 endpoint'));
        const target = new URL(base);
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
        headers.host = target.host;
        reply.hijack();
        const up = httpRequest({ host: target.hostname, port: target.port || 80, method: req.method, path: req.url.slice(3) || '/', headers }, (res) => {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
          reply.raw.writeHead(res.statusCode ?? 502, out);
          res.pipe(reply.raw);
        });
        up.on('error', (err) => {
          if (!reply.raw.headersSent) {
            reply.raw.writeHead(502, { 'content-type': 'application/problem+json' });
            reply.raw.end(JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, code: 'Unavailable', detail: `the S3 endpoint is not answering: ${err.message}` }));
          } else reply.raw.destroy(err);
        });
        reply.raw.on('close', () => { if (!reply.raw.writableFinished) up.destroy(); });
        req.raw.pipe(up);
      },
    });
  });
}
