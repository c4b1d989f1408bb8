/**
 * The network controller: level-triggered convergence of the host (through
 * the network driver and the load balancer data plane) to the store.
 *
 * - On start it computes the whole desired state and calls the driver's
 *   `reconcile`, which recreates what is missing and removes owned leftovers
 *   (a kill -9 mid-setup is cleaned here), then starts the data planes.
 * - After that every change event of a network kind, a new generation of
 *   an instance (its security groups may have changed), and a short periodic
 *   resync, run `sync`: a diff against what this controller last applied,
 *   so a rule change reaches running instances well within a second.
 * - All driver work, including instance prepare/release, runs through one
 *   serial queue, so a sync never races an attach or detach.
 */
import type { Logger } from '../core/log.ts';
import { setCondition } from '../core/resource.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { type Desired, computeDesired } from './desired.ts';
import type { NetworkDriver } from './drivers/types.ts';
import type { LoadBalancerDataPlane } from './lb/types.ts';
import { allPorts, deletePortsOfInstance, portsOfInstance } from './ports.ts';
import { KIND, type FloatingIpStatus, type LoadBalancerStatus, type NetworkResourceStatus } from './types.ts';

export interface ControllerOptions {
  store: StateStore;
  bus: EventBus;
  driver: NetworkDriver;
  lb: LoadBalancerDataPlane;
  log: Logger;
  /** Periodic resync (health status, retries). Default 2000 ms. */
  resyncMs?: number;
  /**
   * Ports whose instance no longer exists in the store are released after
   * this long (a compute crash between deleting an instance and releasing its
   * network). Default 60 000 ms; Infinity turns collection off.
   */
  orphanPortGraceMs?: number;
}

const key = (v: unknown) => JSON.stringify(v);
const errMsg = (e: unknown) => (e as Error).message ?? String(e);

export class NetworkController {
  private queue: Promise<unknown> = Promise.resolve();
  private syncQueued = false;
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly applied = { nets: new Map<string, string>(), ports: new Map<string, string>(), pubs: new Map<string, string>(), lbs: new Map<string, string>() };
  /** Last error per object id, cleared on success; shown in status. */
  private readonly failures = new Map<string, string>();

  constructor(private readonly o: ControllerOptions) {}

  get driver(): NetworkDriver { return this.o.driver; }

  /** The desired host state from the store, as this driver needs it. */
  desired(): Promise<Desired> {
    return computeDesired(this.o.store, !this.o.driver.capabilities.perInstanceAddress);
  }

  /** Runs `fn` after every queued driver operation; errors reach the caller only. */
  exec<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  async start(): Promise<void> {
    await this.exec(() => this.fullReconcile());
    const since = await this.o.bus.lastSeq();
    // Instance spec changes (a new generation) may move its ports to other security groups.
    const generations = new Map<string, number>();
    this.unsubscribe = this.o.bus.subscribe({ kinds: [...Object.values(KIND), 'instance'] }, since, (e) => {
      if (e.kind === 'instance') {
        const o = e.object as { id: string; generation: number };
        if (e.type === 'DELETED') { generations.delete(o.id); return; }
        const seen = generations.get(o.id);
        generations.set(o.id, o.generation);
        if (seen === undefined ? o.generation === 1 : seen === o.generation) return;
      }
      this.requestSync();
    });
    this.timer = setInterval(() => this.requestSync(), this.o.resyncMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.queue;
    // Both always run: a failing data plane must not leave the DNS responders bound.
    const results = await Promise.allSettled([this.o.lb.close(), this.o.driver.close()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Coalesces bursts of events into one queued sync. */
  requestSync(): void {
    if (this.syncQueued || this.stopped) return;
    this.syncQueued = true;
    void this.exec(async () => {
      this.syncQueued = false;
      if (!this.stopped) await this.sync();
    }).catch((err) => this.o.log.warn({ err }, 'network sync failed'));
  }

  /** Converges the kernel to the store in one driver reconcile (start, and after a restart). */
  private async fullReconcile(): Promise<void> {
    const d = await this.desired();
    try {
      await this.o.driver.reconcile({
        networks: [...d.networks.values()].map((n) => n.spec),
        ports: [...d.ports.values()].map((p) => p.spec),
        publishedPorts: [...d.published.values()].flatMap((p) => (p.spec ? [p.spec] : [])),
      });
      for (const [id, n] of d.networks) this.applied.nets.set(id, key(n.spec));
      for (const [id, p] of d.ports) this.applied.ports.set(id, key(p.spec));
      for (const [id, p] of d.published) if (p.spec) this.applied.pubs.set(id, key(p.spec));
    } catch (err) {
      // One bad object must not block the rest: fall back to per-object sync, which records each failure.
      this.o.log.error({ err }, 'network reconcile failed; converging object by object');
    }
    await this.sync(d);
  }

  /** Applies the difference between the store and what was last applied. */
  async sync(given?: Desired): Promise<void> {
    if (!given) await this.collectOrphans();
    const d = given ?? await this.desired();
    const drv = this.o.driver;
    const a = this.applied;
    const attempt = async (id: string, fn: () => Promise<void>) => {
      try {
        await fn();
        this.failures.delete(id);
      } catch (err) {
        this.failures.set(id, errMsg(err));
        this.o.log.warn({ err, id }, 'network apply failed');
      }
    };
    for (const [id, n] of d.networks) {
      if (a.nets.get(id) !== key(n.spec)) await attempt(id, async () => { await drv.ensureNetwork(n.spec); a.nets.set(id, key(n.spec)); });
    }
    for (const [id, p] of d.ports) {
      const prev = a.ports.get(id);
      if (prev === key(p.spec) || !a.nets.has(p.spec.networkId)) continue;
      const { securityRules, ...rest } = p.spec;
      const sameWiring = prev !== undefined && key({ ...JSON.parse(prev), securityRules: undefined }) === key({ ...rest, securityRules: undefined });
      await attempt(id, async () => {
        if (sameWiring) await drv.applySecurityGroups(id, securityRules ?? []);
        else await drv.attach(p.spec);
        a.ports.set(id, key(p.spec));
      });
    }
    for (const [id, p] of d.published) {
      const want = p.spec ? key(p.spec) : undefined;
      if (a.pubs.get(id) === want) continue;
      await attempt(id, async () => {
        if (p.spec) { await drv.publishPort(p.spec); a.pubs.set(id, want!); } else { await drv.unpublishPort(id); a.pubs.delete(id); }
      });
    }
    for (const id of [...a.pubs.keys()]) if (!d.published.has(id)) await attempt(id, async () => { await drv.unpublishPort(id); a.pubs.delete(id); });
    for (const [id, lb] of d.lbs) {
      if (a.lbs.get(id) === key(lb.spec)) continue;
      await attempt(id, async () => { await this.o.lb.ensure(lb.spec); a.lbs.set(id, key(lb.spec)); });
    }
    for (const id of [...a.lbs.keys()]) if (!d.lbs.has(id)) await attempt(id, async () => { await this.o.lb.remove(id); a.lbs.delete(id); });
    for (const id of [...a.ports.keys()]) if (!d.ports.has(id)) await attempt(id, async () => { await drv.detach(id); a.ports.delete(id); });
    for (const id of [...a.nets.keys()]) if (!d.networks.has(id)) await attempt(id, async () => { await drv.deleteNetwork(id); a.nets.delete(id); });
    await this.writeStatus(d);
  }

  private lastGc = 0;

  /** Releases ports of instances that are gone from the store (at most every 10 s). */
  private async collectOrphans(): Promise<void> {
    const grace = this.o.orphanPortGraceMs ?? 60_000;
    if (!Number.isFinite(grace) || Date.now() - this.lastGc < 10_000) return;
    this.lastGc = Date.now();
    const res = new Resources(this.o.store);
    const seen = new Set<string>();
    for (const p of await allPorts(this.o.store)) {
      if (seen.has(p.instanceId) || Date.now() - Date.parse(p.createdAt) < grace) continue;
      seen.add(p.instanceId);
      if (await res.getById(p.instanceId)) continue;
      this.o.log.info({ instanceId: p.instanceId, ip: p.ip }, 'releasing the network of a deleted instance');
      for (const q of await portsOfInstance(this.o.store, p.instanceId)) {
        await this.o.driver.detach(q.portId);
        this.applied.ports.delete(q.portId);
      }
      await this.o.store.tx((q) => deletePortsOfInstance(q, p.instanceId));
    }
  }

  /** Marks a port as applied by instance prepare/release (which call the driver themselves). */
  noteAttached(portId: string, spec: unknown): void { this.applied.ports.set(portId, key(spec)); }
  noteDetached(portId: string): void { this.applied.ports.delete(portId); }
  isNetworkApplied(id: string): boolean { return this.applied.nets.has(id); }
  noteNetwork(id: string, spec: unknown): void { this.applied.nets.set(id, key(spec)); }

  private async writeStatus(d: Desired): Promise<void> {
    const res = new Resources(this.o.store);
    const caps = this.o.driver.capabilities;
    let wrote = false;
    const mark = (r: unknown) => { if (r) wrote = true; };
    const portsPer = new Map<string, number>();
    for (const p of d.ports.values()) portsPer.set(p.spec.networkId, (portsPer.get(p.spec.networkId) ?? 0) + 1);
    for (const [id, n] of d.networks) {
      const fail = this.failures.get(id);
      const before = n.resource.status;
      const r = await res.updateStatus<NetworkResourceStatus>(KIND.network, id, (cur, obj) => ({
        ...cur, state: fail ? 'failed' : 'active', dnsDomain: n.spec.dnsDomain, driver: caps.kind, isolation: caps.isolation,
        securityGroupsEnforced: caps.securityGroupsEnforced, ports: portsPer.get(id) ?? 0, observedGeneration: obj.generation,
        ...(fail ? { message: fail } : { message: undefined }),
        conditions: setCondition(cur.conditions, { type: 'Ready', status: fail ? 'False' : 'True', reason: fail ? 'DriverFailed' : 'Applied', ...(fail ? { message: fail } : {}) }),
      }));
      if (r && r.resourceVersion !== n.resource.resourceVersion && key(before) !== key(r.status)) mark(r);
    }
    for (const [id, p] of d.published) {
      const fail = this.failures.get(id);
      const st: FloatingIpStatus = p.spec
        ? { state: fail ? 'failed' : 'active', target: `${p.spec.targetIp}:${p.spec.targetPort}`, ...(fail ? { message: fail } : {}) }
        : { state: 'pending', message: p.problem };
      const r = await res.updateStatus<FloatingIpStatus>(KIND.floatingIp, id, (_cur, obj) => ({ ...st, observedGeneration: obj.generation }));
      if (r && key(p.resource.status) !== key(r.status)) mark(r);
    }
    for (const [id, lb] of d.lbs) {
      const fail = this.failures.get(id);
      const plane = this.o.lb.status(id);
      const health = new Map(plane?.pools.find((x) => x.id === 'default')?.members.map((m) => [m.id, m.healthy]) ?? []);
      const hosts = new Map(lb.spec.pools.find((x) => x.id === 'default')?.members.map((m) => [m.id, m.host]) ?? []);
      const members = lb.resource.spec.members.map((m) => {
        const mid = `${m.instance}-${m.port}`;
        return { instance: m.instance, port: m.port, ...(hosts.get(mid) ? { address: hosts.get(mid) } : {}), healthy: health.get(mid) ?? false };
      });
      const state = fail ? 'failed' : plane ? 'active' : 'pending';
      const message = fail ?? (lb.missing.length ? `no address yet for ${lb.missing.join(', ')}` : undefined);
      const r = await res.updateStatus<LoadBalancerStatus>(KIND.loadBalancer, id, (_cur, obj) => ({
        state, members, observedGeneration: obj.generation, ...(message ? { message } : {}),
        ...(plane ? { listeners: plane.listeners.map((l) => `${l.host}:${l.port}`) } : {}),
      }));
      if (r && key(lb.resource.status) !== key(r.status)) mark(r);
    }
    if (wrote) this.o.bus.poke();
  }
}
