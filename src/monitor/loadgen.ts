/**
 * An HTTP load generator for `yun loadtest` and the benchmarks, loopback
 * only. Two modes:
 *  - open loop (`rps`): request i is due at start + i/rps and its latency
 *    is measured from that intended send time, so a slow server cannot hide
 *    its queueing (no coordinated omission). Requests beyond `maxInFlight`
 *    are counted as `dropped`, not sent late, which bounds memory.
 *  - closed loop (`concurrency`): N workers, each sending its next request
 *    when the previous one answered.
 */
import { Agent, request } from 'node:http';
import { isIP } from 'node:net';

export interface LoadOptions {
  /** http://127.0.0.1:PORT/path (the router); only loopback addresses are accepted. */
  url: string;
  /** Host header (the app's router host name). */
  host?: string;
  rps?: number;
  concurrency?: number;
  durationMs: number;
  timeoutMs?: number;
  maxInFlight?: number;
  /** Called once a second with the figures of that second. */
  onSecond?: (s: SecondStats) => void;
}

export interface SecondStats { second: number; sent: number; ok: number; errors: number; p95Ms: number }

export interface LoadReport {
  mode: 'open' | 'closed';
  targetRps?: number;
  concurrency?: number;
  durationMs: number;
  sent: number;
  completed: number;
  errors: number;
  dropped: number;
  throughputRps: number;
  statusCounts: Record<string, number>;
  latencyMs: { min: number; mean: number; p50: number; p90: number; p95: number; p99: number; max: number };
  timeline: SecondStats[];
  startedAt: string;
  endedAt: string;
}

export function isLoopbackHost(h: string): boolean {
  const host = h.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

const pct = (s: number[], p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : 0);

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const u = new URL(o.url);
  if (u.protocol !== 'http:') throw new Error('load tests speak plain http to the router');
  if (!isLoopbackHost(u.hostname)) throw new Error(`load tests only target loopback addresses, not ${u.hostname}`);
  if (!o.rps === !o.concurrency) throw new Error('give exactly one of rps or concurrency');
  const maxInFlight = o.maxInFlight ?? 2000;
  const agent = new Agent({ keepAlive: true, maxSockets: Math.min(maxInFlight, 512) });
  const lat: number[] = [];
  const statusCounts: Record<string, number> = {};
  const timeline: SecondStats[] = [];
  let cur: SecondStats & { lat: number[] } = { second: 0, sent: 0, ok: 0, errors: 0, p95Ms: 0, lat: [] };
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  const t0 = performance.now();
  const started = new Date();
  const host = o.host ?? u.host;

  const one = (intended: number) => new Promise<void>((resolve) => {
    sent++;
    cur.sent++;
    inFlight++;
    let settled = false;
    const finish = (status: string) => {
      if (settled) return;
      settled = true;
      inFlight--;
      const ms = performance.now() - intended;
      completed++;
      lat.push(ms);
      cur.lat.push(ms);
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (!/^[23]/.test(status)) { errors++; cur.errors++; } else cur.ok++;
      resolve();
    };
    const req = request({ host: u.hostname, port: u.port || 80, path: `${u.pathname}${u.search}`, method: 'GET', headers: { host }, agent, timeout: o.timeoutMs ?? 10_000 }, (res) => {
      res.resume();
      res.on('end', () => finish(String(res.statusCode ?? 0)));
      res.on('error', () => finish('error'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: Error & { code?: string }) => finish(e.message === 'timeout' ? 'timeout' : e.code ?? 'error'));
    req.end();
  });

  const roll = (now: number) => {
    const second = Math.floor((now - t0) / 1000);
    while (second > cur.second) {
      const s = { second: cur.second, sent: cur.sent, ok: cur.ok, errors: cur.errors, p95Ms: round(pct(cur.lat.sort((a, b) => a - b), 95)) };
      timeline.push(s);
      o.onSecond?.(s);
      cur = { second: cur.second + 1, sent: 0, ok: 0, errors: 0, p95Ms: 0, lat: [] };
    }
  };

  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => { pending.add(p); void p.finally(() => pending.delete(p)); };
  if (o.rps) {
    const interval = 1000 / o.rps;
    let i = 0;
    await new Promise<void>((done) => {
      const pump = () => {
        const now = performance.now();
        roll(now);
        while (t0 + i * interval <= now && i * interval < o.durationMs) {
          const intended = t0 + i * interval;
          i++;
          if (inFlight >= maxInFlight) { dropped++; continue; }
          track(one(intended));
        }
        if (i * interval >= o.durationMs) return done();
        setTimeout(pump, Math.max(1, Math.min(10, t0 + i * interval - performance.now())));
      };
      pump();
    });
  } else {
    const end = t0 + o.durationMs;
    const worker = async () => { while (performance.now() < end) { roll(performance.now()); await one(performance.now()); } };
    await Promise.all(Array.from({ length: o.concurrency! }, worker));
  }
  await Promise.all([...pending]);
  const endNow = performance.now();
  roll(endNow + 1000);
  agent.destroy();
  const s = lat.sort((a, b) => a - b);
  const elapsed = endNow - t0;
  return {
    mode: o.rps ? 'open' : 'closed', targetRps: o.rps, concurrency: o.concurrency, durationMs: Math.round(elapsed),
    sent, completed, errors, dropped, throughputRps: round(completed / (elapsed / 1000)), statusCounts,
    latencyMs: {
      min: round(s[0] ?? 0), mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
      p50: round(pct(s, 50)), p90: round(pct(s, 90)), p95: round(pct(s, 95)), p99: round(pct(s, 99)), max: round(s.at(-1) ?? 0),
    },
    timeline, startedAt: started.toISOString(), endedAt: new Date().toISOString(),
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
