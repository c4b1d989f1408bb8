/**
 * A pool of members with health state and a balancing algorithm, plus its
 * active health checker. Member state survives spec updates for members that
 * keep their id and address.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { UpstreamPool } from '../proxy/h1.ts';
import type { HealthCheckSpec, LbAlgorithm, LbMember, MemberStatus, PoolSpec } from './types.ts';

export class Member {
  healthy = true;
  active = 0;
  total = 0;
  okStreak = 0;
  failStreak = 0;
  /** Keep-alive connections of L7 listeners to this member (made on first use). */
  upstream?: UpstreamPool;
  constructor(readonly spec: LbMember) {}

  status(): MemberStatus {
    return { id: this.spec.id, healthy: this.healthy, activeConnections: this.active, totalRequests: this.total };
  }
}

export class Pool {
  members: Member[] = [];
  private algorithm: LbAlgorithm = 'round_robin';
  private check?: HealthCheckSpec;
  private next = 0;
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(spec: PoolSpec) {
    this.update(spec);
  }

  update(spec: PoolSpec): void {
    const old = new Map(this.members.map((m) => [m.spec.id, m]));
    this.members = spec.members.map((s) => {
      const m = old.get(s.id);
      return m && m.spec.host === s.host && m.spec.port === s.port ? m : new Member(s);
    });
    const kept = new Set(this.members);
    for (const m of old.values()) if (!kept.has(m)) m.upstream?.close();
    this.algorithm = spec.algorithm;
    const changed = JSON.stringify(this.check) !== JSON.stringify(spec.healthCheck);
    this.check = spec.healthCheck;
    if (!this.check) for (const m of this.members) m.healthy = true;
    if (changed) this.startChecks();
  }

  /** Chooses a healthy member, or undefined when none is in. */
  pick(): Member | undefined {
    const ms = this.members;
    let healthy = 0;
    for (const m of ms) if (m.healthy) healthy++;
    if (healthy === 0) return undefined;
    const start = this.next++ % healthy;
    // the start-th healthy member, then (least connections) the least busy from there on
    let i = 0;
    for (let seen = -1; i < ms.length; i++) if (ms[i]!.healthy && ++seen === start) break;
    let best = ms[i]!;
    if (this.algorithm === 'round_robin' || healthy === 1) return best;
    for (let k = 1; k < ms.length; k++) {
      const m = ms[(i + k) % ms.length]!;
      if (m.healthy && m.active < best.active) best = m;
    }
    return best;
  }

  private startChecks(): void {
    this.stop();
    const hc = this.check;
    if (!hc) return;
    this.timer = setInterval(() => void this.runChecks(hc), hc.intervalMs);
    this.timer.unref();
  }

  /** Runs one round of checks now (also used by tests). */
  async runChecks(hc: HealthCheckSpec | undefined = this.check): Promise<void> {
    if (!hc || this.checking) return;
    this.checking = true;
    try {
      await Promise.all(this.members.map(async (m) => {
        const ok = await probe(m.spec, hc);
        if (ok) {
          m.failStreak = 0;
          m.okStreak++;
          if (!m.healthy && m.okStreak >= hc.rise) m.healthy = true;
        } else {
          m.okStreak = 0;
          m.failStreak++;
          if (m.healthy && m.failStreak >= hc.fall) m.healthy = false;
        }
      }));
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the checks and closes the members' idle connections (the pool is going away). */
  close(): void {
    this.stop();
    for (const m of this.members) m.upstream?.close();
  }
}

function probe(m: LbMember, hc: HealthCheckSpec): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      finish(false);
      sock?.destroy();
      req?.destroy();
    }, hc.timeoutMs);
    let sock: ReturnType<typeof connect> | undefined;
    let req: ReturnType<typeof request> | undefined;
    if (hc.type === 'tcp') {
      sock = connect({ host: m.host, port: m.port }, () => {
        finish(true);
        sock!.destroy();
      });
      sock.on('error', () => finish(false));
    } else {
      req = request({ host: m.host, port: m.port, path: hc.path ?? '/', method: 'GET', agent: false, headers: { 'user-agent': 'yun-lb-health' } }, (res) => {
        res.resume();
        finish(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400);
      });
      req.on('error', () => finish(false));
      req.end();
    }
  });
}
