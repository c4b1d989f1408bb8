/**
 * The apps router: an HTTP reverse proxy on `config.routerPort` that picks
 * the app by Host header (`<app>.<project>.apps.localhost` and custom
 * domains), then round-robins over the app's ready replicas only.
 *
 * - Keep-alive connection pools per replica (src/network/proxy/h1.ts: a
 *   plain-socket HTTP/1.1 proxy engine, about twice Node's http stack).
 * - X-Forwarded-For / -Proto / -Host are set.
 * - Idempotent requests without a body (GET, HEAD, OPTIONS) are retried on
 *   another replica when the connection fails before any answer.
 * - WebSocket (Upgrade) and streamed bodies pass through.
 * - Replicas leave the table before they are stopped; the controller waits
 *   for `inFlight(replica)` to drain (connection draining).
 *
 * What it cannot do: TLS (plain HTTP only), HTTP/2, sticky sessions.
 */
import type { Server } from 'node:net';
import type { Logger } from '../core/log.ts';
import { type Exchange, UpstreamPool, createH1Proxy } from '../network/proxy/h1.ts';
import { type AppCounters, TrafficMeter } from './metrics.ts';

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

const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const appHost = (app: string, projectName: string, base = 'apps.localhost') => `${app}.${projectName}.${base}`;

interface Entry {
  route: AppRoute;
  /** Connection pools by host:port, and the pool of each of route.backends (same order). */
  pools: Map<string, UpstreamPool>;
  targets: UpstreamPool[];
  counters: AppCounters;
  next: number;
}

const poolKey = (b: Backend) => `${b.host}:${b.port}`;
/** Host header → entry lookups remembered (cleared on every route change). */
const HOST_CACHE_MAX = 1024;

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
  private readonly hostCache = new Map<string, Entry | null>();
  private server?: Server & { closeAllConnections(): void };
  port = 0;

  constructor(private readonly o: RouterOptions) {
    this.metrics = o.metrics ?? new TrafficMeter();
  }

  /** Replaces one app's route (hosts and ready backends). */
  setRoute(key: string, route: AppRoute): void {
    let e = this.byKey.get(key);
    if (!e) {
      e = { route, pools: new Map(), targets: [], counters: this.metrics.counters(route.project, route.app), next: 0 };
      this.byKey.set(key, e);
    }
    for (const h of e.route.hosts) if (this.byHost.get(h.toLowerCase()) === e) this.byHost.delete(h.toLowerCase());
    e.route = route;
    e.counters = this.metrics.counters(route.project, route.app);
    for (const h of route.hosts) this.byHost.set(h.toLowerCase(), e);
    const keep = new Set(route.backends.map(poolKey));
    for (const [k, p] of e.pools) if (!keep.has(k)) { p.close(); e.pools.delete(k); }
    const timeoutMs = this.o.requestTimeoutMs ?? 60_000;
    const pools = e.pools;
    e.targets = route.backends.map((b) => {
      const k = poolKey(b);
      let p = pools.get(k);
      if (!p) { p = new UpstreamPool(b.host, b.port, timeoutMs); pools.set(k, p); }
      return p;
    });
    this.hostCache.clear();
  }

  removeRoute(key: string): void {
    const e = this.byKey.get(key);
    if (!e) return;
    for (const h of e.route.hosts) if (this.byHost.get(h.toLowerCase()) === e) this.byHost.delete(h.toLowerCase());
    this.byKey.delete(key);
    for (const p of e.pools.values()) p.close();
    e.pools.clear();
    this.hostCache.clear();
  }

  route(key: string): AppRoute | undefined {
    return this.byKey.get(key)?.route;
  }

  /** Requests currently proxied to one replica (draining waits for 0). */
  inFlight(backendId: string): number {
    return this.inflight.get(backendId) ?? 0;
  }

  async start(): Promise<number> {
    const server = createH1Proxy({ onRequest: (ex) => this.handle(ex), keepAliveTimeoutMs: 65_000 });
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
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private find(hostHeader: string, url: string): Entry | undefined {
    let e = this.hostCache.get(hostHeader);
    if (e === undefined) {
      const host = hostHeader.toLowerCase().replace(/:\d+$/, '');
      e = this.byHost.get(host) ?? this.byHost.get(`*.${host.split('.').slice(1).join('.')}`) ?? null;
      if (this.hostCache.size >= HOST_CACHE_MAX) this.hostCache.clear();
      this.hostCache.set(hostHeader, e);
    }
    if (!e) return undefined;
    const p = e.route.pathPrefix;
    if (p && p !== '/' && !(url === p || url.startsWith(p.endsWith('/') ? p : `${p}/`) || url.startsWith(`${p}?`))) return undefined;
    return e;
  }

  /** Round robin over the backends not yet tried: an index into e.route.backends, or -1. */
  private pick(e: Entry, exclude: string[] | null): number {
    const bs = e.route.backends;
    e.next = (e.next + 1) % 1_000_000;
    if (!exclude) return bs.length ? e.next % bs.length : -1;
    const left: number[] = [];
    for (let i = 0; i < bs.length; i++) if (!exclude.includes(bs[i]!.id)) left.push(i);
    return left.length ? left[e.next % left.length]! : -1;
  }

  private handle(ex: Exchange): void {
    const e = this.find(ex.host, ex.url);
    if (!e) {
      ex.reply(404, `no app serves ${ex.host || '(no Host header)'}${ex.url}\n`);
      return;
    }
    if (ex.upgrade) { this.upgrade(ex, e); return; }
    const c = e.counters;
    const t0 = performance.now();
    c.inFlight++;
    const done = (status: number) => {
      c.inFlight--;
      c.bytesOut += ex.sent;
      this.metrics.record(c, performance.now() - t0, status);
    };
    const retry = RETRYABLE.has(ex.method) && !ex.hasBody;
    let tried: string[] | null = null;
    let holdUntil = 0;
    const attempt = (): void => {
      if (ex.aborted) { done(499); return; }
      const i = this.pick(e, tried);
      const b = i >= 0 ? e.route.backends[i] : undefined;
      if (!b && !tried && e.route.holdMs) {
        holdUntil ||= Date.now() + e.route.holdMs;
        if (Date.now() < holdUntil) { setTimeout(attempt, 50); return; }
      }
      if (!b) {
        ex.reply(503, `app '${e.route.app}' has no ready replica\n`, { headers: { 'retry-after': '1' } });
        done(503);
        return;
      }
      (tried ??= []).push(b.id);
      this.inflight.set(b.id, (this.inflight.get(b.id) ?? 0) + 1);
      ex.forward(e.targets[i]!, (status, err) => {
        const n = (this.inflight.get(b.id) ?? 1) - 1;
        if (n <= 0) this.inflight.delete(b.id); else this.inflight.set(b.id, n);
        if (!err) { done(status); return; }
        if (!ex.canRespond) { done(ex.aborted ? 499 : status || 502); return; }
        const timedOut = err.code === 'ETIMEDOUT';
        if (retry && tried!.length < 3 && !timedOut) { attempt(); return; }
        const code = timedOut ? 504 : 502;
        this.o.log?.debug({ app: e.route.app, replica: b.id, err: err.message }, 'router: replica failed');
        ex.reply(code, `replica of '${e.route.app}' failed: ${err.code}\n`);
        done(code);
      });
    };
    attempt();
  }

  /** WebSocket and other upgrades: spliced to one replica on a fresh connection. */
  private upgrade(ex: Exchange, e: Entry): void {
    const i = this.pick(e, null);
    if (i < 0) { ex.reply(503, `app '${e.route.app}' has no ready replica\n`, { close: true }); return; }
    ex.forward(e.targets[i]!, () => undefined);
  }
}
