/**
 * The built-in load balancer data plane, in Node: L4 TCP and L7 HTTP
 * listeners, round robin and least connections, active health checks.
 *
 * What it cannot do: TLS termination, HTTP/2, UDP. WebSocket upgrades pass
 * through L7 listeners (spliced after the handshake).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { YunError } from '../../core/errors.ts';
import { validateIpv4 } from '../ipam.ts';
import { validateId, validatePort } from '../drivers/validate.ts';
import { type HttpRouting, httpProxy } from './http.ts';
import { Pool } from './pool.ts';
import { tcpProxy } from './tcp.ts';
import type { ListenerSpec, LoadBalancerDataPlane, LoadBalancerSpec, LoadBalancerStatus, PoolSpec } from './types.ts';

interface RunningListener {
  spec: ListenerSpec;
  server: NetServer | HttpServer;
  port: number;
}

interface RunningLb {
  spec: LoadBalancerSpec;
  pools: Map<string, Pool>;
  listeners: Map<string, RunningListener>;
}

const bad = (field: string, msg: string) => new YunError('ValidationFailed', `${field} ${msg}`, { field });

export function validateLb(spec: LoadBalancerSpec): LoadBalancerSpec {
  validateId(spec.id, 'id');
  const poolIds = new Set<string>();
  spec.pools.forEach((p: PoolSpec, i) => {
    validateId(p.id, `pools/${i}/id`);
    if (poolIds.has(p.id)) throw bad(`pools/${i}/id`, 'is duplicated');
    poolIds.add(p.id);
    if (p.algorithm !== 'round_robin' && p.algorithm !== 'least_connections') throw bad(`pools/${i}/algorithm`, 'must be round_robin or least_connections');
    p.members.forEach((m, j) => {
      validateId(m.id, `pools/${i}/members/${j}/id`);
      validateIpv4(m.host, `pools/${i}/members/${j}/host`);
      validatePort(m.port, `pools/${i}/members/${j}/port`);
    });
    const hc = p.healthCheck;
    if (hc) {
      const f = `pools/${i}/healthCheck`;
      if (hc.type !== 'tcp' && hc.type !== 'http') throw bad(`${f}/type`, 'must be tcp or http');
      if (!(Number.isInteger(hc.intervalMs) && hc.intervalMs >= 50)) throw bad(`${f}/intervalMs`, 'must be an integer >= 50');
      if (!(Number.isInteger(hc.timeoutMs) && hc.timeoutMs >= 10 && hc.timeoutMs <= hc.intervalMs * 10)) throw bad(`${f}/timeoutMs`, 'must be an integer >= 10');
      if (!(Number.isInteger(hc.rise) && hc.rise >= 1 && hc.rise <= 100)) throw bad(`${f}/rise`, 'must be 1-100');
      if (!(Number.isInteger(hc.fall) && hc.fall >= 1 && hc.fall <= 100)) throw bad(`${f}/fall`, 'must be 1-100');
      if (hc.path !== undefined && !/^\/[\x21-\x7e]{0,1023}$/.test(hc.path)) throw bad(`${f}/path`, 'must be an absolute path');
    }
  });
  spec.listeners.forEach((l, i) => {
    validateId(l.id, `listeners/${i}/id`);
    if (l.protocol !== 'tcp' && l.protocol !== 'http') throw bad(`listeners/${i}/protocol`, 'must be tcp or http');
    validateIpv4(l.host, `listeners/${i}/host`);
    if (l.port !== 0) validatePort(l.port, `listeners/${i}/port`);
    for (const p of [l.defaultPool, ...(l.routes ?? []).map((r) => r.pool)]) {
      if (p !== undefined && !poolIds.has(p)) throw bad(`listeners/${i}`, `refers to unknown pool ${p}`);
    }
    if (l.protocol === 'tcp' && !l.defaultPool) throw bad(`listeners/${i}/defaultPool`, 'is required for tcp listeners');
  });
  return spec;
}

export class NodeLoadBalancer implements LoadBalancerDataPlane {
  readonly capabilities = {
    kind: 'node',
    protocols: ['tcp', 'http'] as Array<'tcp' | 'http'>,
    algorithms: ['round_robin', 'least_connections'] as Array<'round_robin' | 'least_connections'>,
    healthChecks: ['tcp', 'http'] as Array<'tcp' | 'http'>,
  };
  private readonly lbs = new Map<string, RunningLb>();
  private readonly memberTimeoutMs: number;
  /** Bytes written to clients, by LB id, not yet taken; open client sockets and what of them was counted. */
  private bytesOut: Record<string, number> = {};
  private readonly clients = new Map<Socket, { lb: string; seen: number }>();

  constructor(opts: { memberTimeoutMs?: number } = {}) {
    this.memberTimeoutMs = opts.memberTimeoutMs ?? 60_000;
  }

  async ensure(input: LoadBalancerSpec): Promise<LoadBalancerStatus> {
    const spec = validateLb(structuredClone(input));
    let lb = this.lbs.get(spec.id);
    const isNew = !lb;
    if (!lb) {
      lb = { spec, pools: new Map(), listeners: new Map() };
      this.lbs.set(spec.id, lb);
    }
    lb.spec = spec;
    for (const p of spec.pools) {
      const existing = lb.pools.get(p.id);
      if (existing) existing.update(p);
      else lb.pools.set(p.id, new Pool(p));
    }
    for (const [id, pool] of lb.pools) {
      if (!spec.pools.some((p) => p.id === id)) {
        pool.close();
        lb.pools.delete(id);
      }
    }
    const running = lb;
    for (const [id, l] of lb.listeners) {
      const want = spec.listeners.find((x) => x.id === id);
      if (!want || want.host !== l.spec.host || (want.port !== 0 && want.port !== l.port) || want.protocol !== l.spec.protocol) {
        await closeServer(l.server);
        lb.listeners.delete(id);
      }
    }
    const opened: string[] = [];
    for (const ls of spec.listeners) {
      const existing = lb.listeners.get(ls.id);
      if (existing) {
        existing.spec = ls;
        continue;
      }
      const server = ls.protocol === 'tcp'
        ? tcpProxy(() => running.pools.get(running.listeners.get(ls.id)?.spec.defaultPool ?? ''))
        : httpProxy((): HttpRouting => {
            const cur = running.listeners.get(ls.id)?.spec ?? ls;
            return { routes: cur.routes ?? [], defaultPool: cur.defaultPool, pools: running.pools, memberTimeoutMs: this.memberTimeoutMs };
          });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(ls.port, ls.host, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch(async (e: Error) => {
        // Nothing new keeps listening after a failed ensure.
        for (const id of opened) {
          const l = lb.listeners.get(id);
          lb.listeners.delete(id);
          if (l) await closeServer(l.server);
        }
        if (isNew) await this.remove(spec.id);
        throw new YunError('Conflict', `cannot listen on ${ls.host}:${ls.port}: ${e.message}`, { field: 'port', cause: e });
      });
      server.on('connection', (s: Socket) => this.trackClient(spec.id, s));
      const addr = server.address();
      lb.listeners.set(ls.id, { spec: ls, server, port: typeof addr === 'object' && addr ? addr.port : ls.port });
      opened.push(ls.id);
    }
    return this.status(spec.id)!;
  }

  status(id: string): LoadBalancerStatus | undefined {
    const lb = this.lbs.get(id);
    if (!lb) return undefined;
    return {
      id,
      listeners: [...lb.listeners.values()].map((l) => ({ id: l.spec.id, host: l.spec.host, port: l.port })),
      pools: [...lb.pools.entries()].map(([pid, p]) => ({ id: pid, members: p.members.map((m) => m.status()) })),
    };
  }

  /** Runs one health-check round of every pool now (tests, and a manual "check now"). */
  async checkNow(id: string): Promise<void> {
    const lb = this.lbs.get(id);
    if (lb) await Promise.all([...lb.pools.values()].map((p) => p.runChecks()));
  }

  async remove(id: string): Promise<void> {
    const lb = this.lbs.get(id);
    if (!lb) return;
    this.lbs.delete(id);
    for (const p of lb.pools.values()) p.close();
    await Promise.all([...lb.listeners.values()].map((l) => closeServer(l.server)));
  }

  async close(): Promise<void> {
    for (const id of [...this.lbs.keys()]) await this.remove(id);
  }

  private trackClient(lb: string, s: Socket): void {
    const c = { lb, seen: 0 };
    this.clients.set(s, c);
    s.once('close', () => {
      this.count(c, s.bytesWritten);
      this.clients.delete(s);
    });
  }

  private count(c: { lb: string; seen: number }, written: number): void {
    if (written > c.seen) this.bytesOut[c.lb] = (this.bytesOut[c.lb] ?? 0) + written - c.seen;
    c.seen = written;
  }

  takeDataOut(): Record<string, number> {
    for (const [s, c] of this.clients) this.count(c, s.bytesWritten);
    const out = this.bytesOut;
    this.bytesOut = {};
    return out;
  }
}

async function closeServer(s: NetServer | HttpServer): Promise<void> {
  await new Promise<void>((r) => {
    s.close(() => r());
    if ('closeAllConnections' in s) s.closeAllConnections();
  });
}
