/**
 * L7 HTTP proxy: routes by host and path prefix, keeps connections to members
 * alive (a pool per member, on the plain-socket engine in
 * src/network/proxy/h1.ts), and appends X-Forwarded-For / -Proto / -Host.
 * Upgrades (WebSocket) are spliced to a member on a fresh connection.
 */
import type { Server } from 'node:net';
import { UpstreamPool, createH1Proxy } from '../proxy/h1.ts';
import type { Pool } from './pool.ts';
import type { HttpRoute } from './types.ts';

export interface HttpRouting {
  routes: HttpRoute[];
  defaultPool?: string;
  pools: Map<string, Pool>;
  /** Idle time allowed while waiting on a member before answering 504. */
  memberTimeoutMs: number;
}

export function matchRoute(routes: HttpRoute[], hostHeader: string | undefined, url: string | undefined): HttpRoute | undefined {
  if (routes.length === 0) return undefined;
  const host = (hostHeader ?? '').replace(/:\d+$/, '').toLowerCase();
  const path = (url ?? '/').split('?')[0]!;
  return routes.find((r) => {
    if (r.host) {
      const h = r.host.toLowerCase();
      if (h.startsWith('*.') ? !host.endsWith(h.slice(1)) : host !== h) return false;
    }
    if (r.pathPrefix && r.pathPrefix !== '/') {
      const p = r.pathPrefix.replace(/\/$/, '');
      if (!(path === p || path.startsWith(`${p}/`))) return false;
    }
    return true;
  });
}

export function httpProxy(routing: () => HttpRouting): Server & { closeAllConnections(): void } {
  return createH1Proxy({
    onRequest(ex) {
      const r = routing();
      const poolId = matchRoute(r.routes, ex.host, ex.url)?.pool ?? r.defaultPool;
      const pool = poolId ? r.pools.get(poolId) : undefined;
      if (!pool) { ex.reply(404, 'no route\n', { close: true }); return; }
      const m = pool.pick();
      if (!m) { ex.reply(503, 'no healthy member\n', { close: true }); return; }
      m.active++;
      m.total++;
      m.upstream ??= new UpstreamPool(m.spec.host, m.spec.port, r.memberTimeoutMs);
      ex.forward(m.upstream, (_status, err) => {
        m.active--;
        if (err && ex.canRespond) {
          const timedOut = err.code === 'ETIMEDOUT';
          ex.reply(timedOut ? 504 : 502, timedOut ? 'member timed out\n' : 'member failed\n', { close: true });
        }
      });
    },
  });
}
