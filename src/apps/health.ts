/**
 * Active health checks of replicas. Each replica is probed every
 * `intervalSeconds`; it becomes ready after `healthyThreshold` consecutive
 * successes and unready after `unhealthyThreshold` consecutive failures.
 * Without a health check in the app, a TCP connect to the app port is used.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthCheck } from './types.ts';

export interface ProbeTarget { host: string; port: number }

export interface ReplicaHealth {
  ready: boolean;
  /** A replica that was ready once and then failed: unhealthy, not just starting. */
  everReady: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastChange: number;
}

export const DEFAULT_CHECK: Required<Omit<HealthCheck, 'path'>> = { type: 'tcp', intervalSeconds: 1, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 3 };

/** One probe: resolves with an error message, or undefined when healthy. */
export function probeOnce(t: ProbeTarget, hc: HealthCheck): Promise<string | undefined> {
  const timeoutMs = (hc.timeoutSeconds ?? DEFAULT_CHECK.timeoutSeconds) * 1000;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (err?: string) => { if (!settled) { settled = true; clearTimeout(timer); resolve(err); } };
    const timer = setTimeout(() => { finish(`timed out after ${timeoutMs} ms`); cleanup(); }, timeoutMs);
    let cleanup = () => {};
    if (hc.type === 'tcp') {
      const s = connect({ host: t.host, port: t.port }, () => { finish(); s.destroy(); });
      s.on('error', (e) => finish(e.message));
      cleanup = () => s.destroy();
    } else {
      const r = request({ host: t.host, port: t.port, path: hc.path ?? '/', method: 'GET', agent: false, headers: { 'user-agent': 'yun-apps-health', connection: 'close' } }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        finish(code >= 200 && code < 400 ? undefined : `HTTP ${code}`);
      });
      r.on('error', (e) => finish(e.message));
      r.end();
      cleanup = () => r.destroy();
    }
  });
}

interface Probe { target: ProbeTarget; hc: HealthCheck; state: ReplicaHealth; ok: number; timer?: NodeJS.Timeout; key: string }

export class HealthProber {
  private readonly probes = new Map<string, Probe>();

  /** `onChange(id)` is called when a replica turns ready or unready. */
  constructor(private readonly onChange: (id: string) => void) {}

  /** Starts (or retargets) probing of replica `id`. */
  ensure(id: string, target: ProbeTarget, hc: HealthCheck | undefined): void {
    const check = hc ?? DEFAULT_CHECK;
    const key = `${target.host}:${target.port}:${JSON.stringify(check)}`;
    const p = this.probes.get(id);
    if (p && p.key === key) return;
    if (p) clearTimeout(p.timer);
    const np: Probe = { target, hc: check, key, ok: 0, state: { ready: false, everReady: false, consecutiveFailures: 0, lastChange: Date.now() } };
    this.probes.set(id, np);
    this.schedule(id, np, 0);
  }

  health(id: string): ReplicaHealth | undefined {
    return this.probes.get(id)?.state;
  }

  ids(): string[] {
    return [...this.probes.keys()];
  }

  forget(id: string): void {
    const p = this.probes.get(id);
    if (p) clearTimeout(p.timer);
    this.probes.delete(id);
  }

  stop(): void {
    for (const id of [...this.probes.keys()]) this.forget(id);
  }

  private schedule(id: string, p: Probe, ms: number): void {
    p.timer = setTimeout(() => { void this.run(id, p); }, ms);
    p.timer.unref();
  }

  private async run(id: string, p: Probe): Promise<void> {
    const err = await probeOnce(p.target, p.hc);
    if (this.probes.get(id) !== p) return;
    const s = p.state;
    const was = s.ready;
    if (err === undefined) {
      p.ok++;
      s.consecutiveFailures = 0;
      s.lastError = undefined;
      if (!s.ready && p.ok >= (p.hc.healthyThreshold ?? DEFAULT_CHECK.healthyThreshold)) { s.ready = true; s.everReady = true; }
    } else {
      p.ok = 0;
      s.consecutiveFailures++;
      s.lastError = err;
      if (s.ready && s.consecutiveFailures >= (p.hc.unhealthyThreshold ?? DEFAULT_CHECK.unhealthyThreshold)) s.ready = false;
    }
    if (was !== s.ready) { s.lastChange = Date.now(); this.onChange(id); }
    const interval = (p.hc.intervalSeconds ?? DEFAULT_CHECK.intervalSeconds) * 1000;
    // Until first ready, probe faster so a new replica joins the router quickly.
    this.schedule(id, p, s.everReady ? interval : Math.min(interval, 250));
  }
}
