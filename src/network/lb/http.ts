/**
 * L7 HTTP proxy: routes by host and path prefix, keeps connections to members
 * alive (one agent per pool), and appends X-Forwarded-For / -Proto / -Host.
 */
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Pool } from './pool.ts';
import type { HttpRoute } from './types.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface HttpRouting {
  routes: HttpRoute[];
  defaultPool?: string;
  pools: Map<string, Pool>;
  agents: Map<string, Agent>;
  /** Idle time allowed while waiting on a member before answering 504. */
  memberTimeoutMs: number;
}

export function matchRoute(routes: HttpRoute[], hostHeader: string | undefined, url: string | undefined): HttpRoute | undefined {
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

function forwardHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()));
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k)) continue;
    out[k] = v;
  }
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${remote}` : remote;
  out['x-forwarded-proto'] = 'http';
  if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
  return out;
}

function fail(res: ServerResponse, status: number, msg: string) {
  if (!res.headersSent) {
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`${msg}\n`);
  } else res.destroy();
}

function choose(r: HttpRouting, req: IncomingMessage) {
  const poolId = matchRoute(r.routes, req.headers.host, req.url)?.pool ?? r.defaultPool;
  const pool = poolId ? r.pools.get(poolId) : undefined;
  return { poolId, pool, member: pool?.pick() };
}

export function httpProxy(routing: () => HttpRouting): Server {
  const server = createServer((req, res) => {
    const r = routing();
    const { poolId, pool, member: m } = choose(r, req);
    if (!pool) return fail(res, 404, 'no route');
    if (!m) return fail(res, 503, 'no healthy member');
    m.active++;
    m.total++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        m.active--;
      }
    };
    const up = request({ host: m.spec.host, port: m.spec.port, method: req.method, path: req.url, headers: forwardHeaders(req), agent: r.agents.get(poolId!) }, (ur) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
      ur.on('end', release);
      ur.on('error', () => { release(); res.destroy(); });
    });
    up.setTimeout(r.memberTimeoutMs, () => up.destroy(Object.assign(new Error('member timed out'), { code: 'ETIMEDOUT' })));
    up.on('error', (e: NodeJS.ErrnoException) => { release(); fail(res, e.code === 'ETIMEDOUT' ? 504 : 502, e.code === 'ETIMEDOUT' ? 'member timed out' : 'member failed'); });
    res.on('close', () => { release(); if (!res.writableFinished) up.destroy(); });
    req.pipe(up);
  });
  // Upgrades (WebSocket): forward the handshake on a fresh member connection, then splice.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const { member: m } = choose(routing(), req);
    if (!m) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    m.active++;
    m.total++;
    const up = connect({ host: m.spec.host, port: m.spec.port });
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        m.active--;
      }
      client.destroy();
      up.destroy();
    };
    up.on('connect', () => {
      const h = forwardHeaders(req);
      h.connection = 'Upgrade';
      if (req.headers.upgrade) h.upgrade = req.headers.upgrade;
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [k, v] of Object.entries(h)) for (const x of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${x}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', release).on('close', release);
    client.on('error', release).on('close', release);
  });
  return server;
}

export const poolAgent = () => new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
