/**
 * The apps router: an HTTP reverse proxy on `config.routerPort` that picks
 * the app by Host header (`<app>.<project>.apps.localhost` and custom
 * domains), then round-robins over the app's ready replicas only.
 *
 * - Keep-alive agents per app toward replicas.
 * - X-Forwarded-For / -Proto / -Host are set.
 * - Idempotent requests without a body (GET, HEAD, OPTIONS) are retried on
 *   another replica when the connection fails before any answer.
 * - WebSocket (Upgrade) and streamed bodies pass through.
 * - Replicas leave the table before they are stopped; the controller waits
 *   for `inFlight(replica)` to drain (connection draining).
 *
 * What it cannot do: TLS (plain HTTP only), HTTP/2, sticky sessions.
 */
import { Agent, type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { type Socket, connect } from 'node:net';
import type { Logger } from '../core/log.ts';
import { TrafficMeter } from './metrics.ts';

export interface Backend { id: string; host: string; port: number }

export interface AppRoute {
  /** Project id (metrics key) and name (host names). */
  project: string;
  projectName: string;
  app: string;
  hosts: string[];
  pathPrefix?: string;
  backends: Backend[];
  /**
   * With no ready replica, hold requests this long waiting for one (scale
   * from zero, first start) instead of answering 503 at once.
   */
  holdMs?: number;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const appHost = (app: string, projectName: string, base = 'apps.localhost') => `${app}.${projectName}.${base}`;

interface Entry { route: AppRoute; agent: Agent; next: number }

export interface RouterOptions {
  host?: string;
  port: number;
  log?: Logger;
  requestTimeoutMs?: number;
  metrics?: TrafficMeter;
}

export class AppRouter {
  readonly metrics: TrafficMeter;
  private readonly byKey = new Map<string, Entry>();
  private readonly byHost = new Map<string, Entry>();
  private readonly inflight = new Map<string, number>();
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly o: RouterOptions) {
    this.metrics = o.metrics ?? new TrafficMeter();
  }

  /** Replaces one app's route (hosts and ready backends). */
  setRoute(key: string, route: AppRoute): void {
    let e = this.byKey.get(key);
    if (!e) {
      e = { route, agent: new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, noDelay: true } as ConstructorParameters<typeof Agent>[0]), next: 0 };
      this.byKey.set(key, e);
    }
    for (const h of e.route.hosts) if (this.byHost.get(h) === e) this.byHost.delete(h);
    e.route = route;
    for (const h of route.hosts) this.byHost.set(h.toLowerCase(), e);
  }

  removeRoute(key: string): void {
    const e = this.byKey.get(key);
    if (!e) return;
    for (const h of e.route.hosts) if (this.byHost.get(h) === e) this.byHost.delete(h);
    this.byKey.delete(key);
    e.agent.destroy();
  }

  route(key: string): AppRoute | undefined {
    return this.byKey.get(key)?.route;
  }

  /** Requests currently proxied to one replica (draining waits for 0). */
  inFlight(backendId: string): number {
    return this.inflight.get(backendId) ?? 0;
  }

  async start(): Promise<number> {
    const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    server.on('upgrade', (req, sock: Socket, head) => this.upgrade(req, sock, head));
    server.on('connection', (s: Socket) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.o.port, this.o.host ?? '127.0.0.1', () => ok());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const k of [...this.byKey.keys()]) this.removeRoute(k);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private find(req: IncomingMessage): Entry | undefined {
    const host = String(req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    const e = this.byHost.get(host) ?? this.byHost.get(`*.${host.split('.').slice(1).join('.')}`);
    if (!e) return undefined;
    const p = e.route.pathPrefix;
    if (p && p !== '/' && !(req.url === p || req.url?.startsWith(p.endsWith('/') ? p : `${p}/`) || req.url?.startsWith(`${p}?`))) return undefined;
    return e;
  }

  private pick(e: Entry, exclude: Set<string>): Backend | undefined {
    const bs = exclude.size ? e.route.backends.filter((b) => !exclude.has(b.id)) : e.route.backends;
    if (!bs.length) return undefined;
    e.next = (e.next + 1) % 1_000_000;
    return bs[e.next % bs.length];
  }

  private headers(req: IncomingMessage): Record<string, string | string[]> {
    const listed = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()));
    const h: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k) && !listed.has(k)) h[k] = v;
    const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    h['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${ip}` : ip;
    h['x-forwarded-proto'] = 'http';
    h['x-forwarded-host'] = String(req.headers.host ?? '');
    if (req.headers['transfer-encoding']) h['transfer-encoding'] = req.headers['transfer-encoding'];
    return h;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const e = this.find(req);
    if (!e) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no app serves ${req.headers.host ?? '(no Host header)'}${req.url ?? ''}\n`);
      return;
    }
    const done = this.metrics.begin(e.route.project, e.route.app);
    const retry = RETRYABLE.has(req.method ?? '') && !req.headers['content-length'] && !req.headers['transfer-encoding'];
    const tried = new Set<string>();
    const holdUntil = Date.now() + (e.route.holdMs ?? 0);
    const attempt = () => {
      const b = this.pick(e, tried);
      if (!b && tried.size === 0 && Date.now() < holdUntil && !res.destroyed) {
        setTimeout(attempt, 50);
        return;
      }
      if (!b) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end(`app '${e.route.app}' has no ready replica\n`);
        return done(503);
      }
      tried.add(b.id);
      this.inflight.set(b.id, (this.inflight.get(b.id) ?? 0) + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const n = (this.inflight.get(b.id) ?? 1) - 1;
        if (n <= 0) this.inflight.delete(b.id); else this.inflight.set(b.id, n);
      };
      const up = request({ host: b.host, port: b.port, method: req.method, path: req.url, headers: this.headers(req), agent: e.agent, timeout: this.o.requestTimeoutMs ?? 60_000 }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, stripHop(ur.headers));
        ur.pipe(res);
        ur.on('end', () => { release(); done(ur.statusCode ?? 502); });
        ur.on('error', () => { release(); res.destroy(); done(502); });
      });
      up.on('timeout', () => up.destroy(new Error('replica timed out')));
      up.on('error', (err: Error & { code?: string }) => {
        release();
        if (res.headersSent) { res.destroy(); return done(502); }
        if (retry && tried.size < 3 && err.message !== 'replica timed out') return attempt();
        const status = err.message === 'replica timed out' ? 504 : 502;
        this.o.log?.debug({ app: e.route.app, replica: b.id, err: err.message }, 'router: replica failed');
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`replica of '${e.route.app}' failed: ${err.code ?? err.message}\n`);
        done(status);
      });
      res.on('close', () => { if (!res.writableFinished) up.destroy(); release(); });
      if (retry) up.end(); else req.pipe(up);
    };
    attempt();
  }

  private upgrade(req: IncomingMessage, sock: Socket, head: Buffer): void {
    const e = this.find(req);
    const b = e && this.pick(e, new Set());
    if (!e || !b) { sock.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n'); return; }
    const up = connect({ host: b.host, port: b.port });
    up.on('connect', () => {
      const h = this.headers(req);
      h.connection = 'Upgrade';
      h.upgrade = String(req.headers.upgrade ?? '');
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [k, v] of Object.entries(h)) for (const x of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${x}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(sock).pipe(up);
    });
    const close = () => { up.destroy(); sock.destroy(); };
    up.on('error', close);
    sock.on('error', close);
  }
}

function stripHop(h: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
}
