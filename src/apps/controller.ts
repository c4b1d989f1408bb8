/**
 * The app controller (level-triggered): for each app, keeps
 * `spec.replicas` ready replicas of the current revision. A reconcile reads
 * the app, its revisions and its instances, asks the health prober which
 * replicas are ready, then:
 *  - publishes the ready replicas to the router (only those);
 *  - rolls out: creates new-revision replicas within maxSurge, removes old
 *    ones only while ready replicas stay ≥ replicas − maxUnavailable;
 *  - removes replicas in two steps: out of the router first, then (once
 *    the router has no request in flight to them) deleted — draining;
 *  - replaces replicas that failed or stayed unhealthy;
 *  - on app deletion (finalizer) deletes every replica, then the
 *    revisions, then the app row, releasing the `apps` quota.
 * Replicas are compute instances with restartPolicy `always`: a crashed
 * process is restarted by compute with exponential backoff; this controller
 * reports CrashLoopBackOff when restarts pile up.
 */
import type { Instance } from '../compute/instances.ts';
import { WorkQueue, type ReconcileResult } from '../compute/workqueue.ts';
import type { Logger } from '../core/log.ts';
import type { IdentityService } from '../identity/service.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import { HealthProber } from './health.ts';
import { type ReplicaDeps, createReplica, deleteAppGroup, deleteReplica } from './replicas.ts';
import { type App, REVISION_KIND, type Revision, ensureRevision, revisionsOf, rolloutLimits, templateHash, templateOf } from './revisions.ts';
import { type AppRouter, type Backend, appHost } from './router.ts';
import type { AppState, AppStatus, ReplicaStatus } from './types.ts';

export interface AppControllerDeps extends ReplicaDeps {
  bus: EventBus;
  log: Logger;
  identity: IdentityService;
  router: AppRouter;
  /** Builds a source revision's image; resolves when the revision's status says ready or failed. */
  build?: (app: App, rev: Revision) => void;
  /** Last bytes of a replica's log (CrashLoopBackOff message). */
  logTail?: (instanceId: string) => Promise<string>;
  resyncMs?: number;
  /** Wait after a replica left the router before it is deleted (connections already picked it). */
  drainGraceMs?: number;
  /** A replica unhealthy this long after it was ready once is replaced. */
  replaceUnhealthyAfterMs?: number;
}

const FAILED = new Set(['error']);
const DOWN = new Set(['exited', 'OOMKilled']);

export class AppController {
  readonly prober: HealthProber;
  private readonly queue: WorkQueue;
  private readonly owner = new Map<string, string>();
  private readonly draining = new Map<string, number>();
  private readonly replaceBackoff = new Map<string, { n: number; at: number }>();
  private unsubscribe?: () => void;
  private resync?: NodeJS.Timeout;

  constructor(private readonly d: AppControllerDeps) {
    this.prober = new HealthProber((id) => { const a = this.owner.get(id); if (a) this.queue.add(a); });
    this.queue = new WorkQueue((k) => this.reconcile(k), (k, e) => d.log.warn({ app: k, err: e }, 'app reconcile failed'), 4);
  }

  async start(): Promise<void> {
    const since = await this.d.bus.lastSeq();
    this.unsubscribe = this.d.bus.subscribe({ kinds: ['app', 'instance', REVISION_KIND] }, since, (e) => {
      if (e.kind === 'app') this.queue.add(e.object.id);
      else if (e.object.ownerId?.startsWith('app-')) this.queue.add(e.object.ownerId);
    });
    const all = async () => { for (const a of await new Resources(this.d.store).all('app')) this.queue.add(a.id); };
    await all();
    this.resync = setInterval(() => { void all().catch(() => undefined); }, this.d.resyncMs ?? 5000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.resync) clearInterval(this.resync);
    await this.queue.stop();
    this.prober.stop();
  }

  /** Kicks one app now (API writes call it after commit). */
  enqueue(appId: string): void {
    this.queue.add(appId);
  }

  private address(i: Instance): string | undefined {
    if (i.status.state !== 'running') return undefined;
    const ip = i.status.addresses?.[0]?.ip;
    if (ip) return ip;
    // No network service: the process driver shares the host's network.
    return i.status.driver === 'process' ? '127.0.0.1' : undefined;
  }

  private ready(i: Instance): boolean {
    return !this.draining.has(i.id) && this.address(i) !== undefined && Boolean(this.prober.health(i.id)?.ready);
  }

  async reconcile(appId: string): Promise<ReconcileResult> {
    const res = new Resources(this.d.store);
    const app = await res.getById(appId) as App | undefined;
    if (!app) { this.d.router.removeRoute(appId); return; }
    const children = await res.ownedBy(app.id);
    const instances = (children.filter((c) => c.kind === 'instance') as unknown as Instance[]);
    const live = instances.filter((i) => !i.deletionTimestamp);
    if (app.deletionTimestamp) return this.finalize(app, instances);

    const revs = await revisionsOf(this.d.store, app.id);
    let rev = revs.find((r) => r.spec.templateHash === templateHash(templateOf(app.spec)));
    if (!rev) rev = (await this.d.store.tx((q) => ensureRevision(q, app))).revision;
    if (rev.status.state === 'building') this.d.build?.(app, rev);
    const portOf = new Map(revs.map((r) => [String(r.spec.revision), r.spec.template]));
    for (const i of live) {
      this.owner.set(i.id, app.id);
      const addr = this.address(i);
      const t = portOf.get(i.labels.revision ?? '') ?? rev.spec.template;
      this.ports.set(i.id, t.port);
      if (addr) this.prober.ensure(i.id, { host: addr, port: t.port }, t.healthCheck);
      else this.prober.forget(i.id);
    }
    for (const i of instances.filter((x) => x.deletionTimestamp)) this.prober.forget(i.id);
    for (const [id, owner] of this.owner) {
      if (owner === app.id && !live.some((i) => i.id === id)) { this.owner.delete(id); this.ports.delete(id); this.prober.forget(id); }
    }

    const project = await this.d.identity.getProject(app.project);
    this.publish(app, project?.name ?? app.project, live);
    let requeue = await this.finishDrains(live);

    // Replace replicas that failed for good or stayed unhealthy, backing off
    // per app (a replica that cannot be placed, NoValidHost, would churn).
    const replaceAfter = this.d.replaceUnhealthyAfterMs ?? 30_000;
    const backoff = this.replaceBackoff.get(app.id) ?? { n: 0, at: 0 };
    for (const i of live) {
      const h = this.prober.health(i.id);
      const stale = h?.everReady && !h.ready && Date.now() - h.lastChange > replaceAfter;
      if (!FAILED.has(i.status.state ?? '') && !stale) continue;
      const wait = Math.min(60_000, 1000 * 2 ** backoff.n);
      if (Date.now() - backoff.at < wait) { requeue = true; continue; }
      this.d.log.info({ app: app.name, replica: i.name, state: i.status.state, reason: i.status.reason }, 'replacing replica');
      this.startDrain(app, project?.name ?? app.project, i, live);
      this.replaceBackoff.set(app.id, { n: backoff.n + 1, at: Date.now() });
    }
    if (backoff.n && live.every((i) => this.ready(i) || this.draining.has(i.id)) && Date.now() - backoff.at > 60_000) this.replaceBackoff.delete(app.id);
    const active = live.filter((i) => !this.draining.has(i.id));
    const N = app.spec.replicas;
    const { maxSurge, maxUnavailable } = rolloutLimits(app.spec);
    const cur = active.filter((i) => i.labels.revision === String(rev!.spec.revision));
    const old = active.filter((i) => i.labels.revision !== String(rev!.spec.revision));
    const revReady = rev.status.state === 'ready';
    if (revReady) {
      const toCreate = Math.max(0, Math.min(N - cur.length, N + maxSurge - active.length));
      const ports = [rev.spec.template.port, ...active.map((i) => this.portOf(app, i))];
      for (let k = 0; k < toCreate; k++) cur.push(await createReplica(this.d, app, rev, ports));
      if (toCreate) requeue = true;
      let readyTotal = active.filter((i) => this.ready(i)).length;
      const minAvailable = N - maxUnavailable;
      const byUnready = (a: Instance, b: Instance) => Number(this.ready(a)) - Number(this.ready(b));
      for (const o of [...old].sort(byUnready)) {
        if (this.ready(o)) {
          if (readyTotal - 1 < minAvailable) break;
          readyTotal--;
        }
        this.startDrain(app, project?.name ?? app.project, o, live);
        old.splice(old.indexOf(o), 1);
        requeue = true;
      }
      if (old.length === 0 && cur.length > N) {
        for (const extra of [...cur].sort(byUnready).slice(0, cur.length - N)) this.startDrain(app, project?.name ?? app.project, extra, live);
        requeue = true;
      }
    }
    await this.writeStatus(app, rev, active, project?.name ?? app.project);
    const settled = revReady && old.length === 0 && cur.length === N && cur.every((i) => this.ready(i));
    return { requeueAfterMs: requeue || !settled ? 500 : (this.d.resyncMs ?? 5000) };
  }

  private publish(app: App, projectName: string, live: Instance[]): void {
    const backends: Backend[] = live.filter((i) => this.ready(i)).map((i) => ({
      id: i.id, host: this.address(i)!, port: this.portOf(app, i),
    }));
    this.d.router.setRoute(app.id, {
      project: app.project, projectName, app: app.name, pathPrefix: app.spec.pathPrefix,
      hosts: [appHost(app.name, projectName), ...(app.spec.domains ?? [])], backends,
      holdMs: app.spec.replicas === 0 ? 30_000 : 10_000,
    });
  }

  private readonly ports = new Map<string, number>();
  private portOf(app: App, i: Instance): number {
    return this.ports.get(i.id) ?? app.spec.port;
  }

  private startDrain(app: App, projectName: string, i: Instance, live: Instance[]): void {
    if (this.draining.has(i.id)) return;
    this.draining.set(i.id, Date.now());
    this.publish(app, projectName, live);
  }

  /** Deletes drained replicas (no request in flight, grace passed). True while some are still draining. */
  private async finishDrains(live: Instance[]): Promise<boolean> {
    let waiting = false;
    const grace = this.d.drainGraceMs ?? 300;
    for (const i of live) {
      const t = this.draining.get(i.id);
      if (t === undefined) continue;
      if (this.d.router.inFlight(i.id) > 0 || Date.now() - t < grace) { waiting = true; continue; }
      await deleteReplica(this.d.store, i);
      this.prober.forget(i.id);
      this.d.bus.poke();
    }
    for (const id of [...this.draining.keys()]) if (!live.some((i) => i.id === id)) this.draining.delete(id);
    return waiting;
  }

  private async writeStatus(app: App, rev: Revision, active: Instance[], projectName: string): Promise<void> {
    const N = app.spec.replicas;
    const replicaStatus: ReplicaStatus[] = active.map((i) => ({
      name: i.name, revision: Number(i.labels.revision), state: i.status.state ?? 'pending', ready: this.ready(i),
      ...(this.address(i) ? { address: `${this.address(i)}:${this.portOf(app, i)}` } : {}),
      ...(i.status.restartCount ? { restartCount: i.status.restartCount } : {}),
    }));
    const cur = replicaStatus.filter((r) => r.revision === rev.spec.revision);
    const ready = replicaStatus.filter((r) => r.ready).length;
    const looping = active.find((i) => (i.status.restartCount ?? 0) >= 3 && !this.ready(i) && (DOWN.has(i.status.state ?? '') || i.status.state === 'running'));
    let state: AppState;
    let message: string | undefined;
    let lastLog: string | undefined;
    if (rev.status.state === 'failed') {
      state = ready ? 'Degraded' : 'Failed';
      message = `revision ${rev.spec.revision} failed to build: ${rev.status.reason ?? 'unknown'}${ready ? '; the previous revision keeps serving' : ''}`;
    } else if (looping) {
      state = 'CrashLoopBackOff';
      message = `replica ${looping.name} restarted ${looping.status.restartCount} times (${looping.status.reason ?? looping.status.state})`;
      lastLog = (await this.d.logTail?.(looping.id).catch(() => ''))?.split('\n').slice(-20).join('\n');
    } else if (rev.status.state === 'building') {
      state = 'Progressing';
      message = `building revision ${rev.spec.revision}`;
    } else if (cur.length === N && replicaStatus.length === N && cur.every((r) => r.ready)) {
      state = 'Available';
    } else if (cur.length !== N || replicaStatus.length !== N) {
      state = 'Progressing';
      message = `${cur.filter((r) => r.ready).length}/${N} replicas of revision ${rev.spec.revision} ready`;
    } else {
      state = 'Degraded';
      message = `${ready}/${N} replicas ready`;
    }
    const errored = active.find((i) => i.status.state === 'error');
    if (errored && state !== 'Available') message = `${message ? `${message}; ` : ''}replica ${errored.name} failed: ${errored.status.reason ?? errored.status.message ?? 'error'}`;
    const url = `http://${appHost(app.name, projectName)}:${this.d.router.port}/`;
    await new Resources(this.d.store).updateStatus<AppStatus>('app', app.id, (s) => ({
      ...s, state, message, lastLog, currentRevision: rev.spec.revision, replicas: replicaStatus.length, readyReplicas: ready,
      updatedReplicas: cur.length, replicaStatus, url, observedGeneration: app.generation,
    }));
  }

  private async finalize(app: App, instances: Instance[]): Promise<ReconcileResult> {
    this.d.router.removeRoute(app.id);
    for (const [id, owner] of this.owner) if (owner === app.id) { this.owner.delete(id); this.ports.delete(id); }
    if (app.status.state !== 'Deleting') {
      await new Resources(this.d.store).updateStatus<AppStatus>('app', app.id, (s) => ({ ...s, state: 'Deleting', message: `deleting ${instances.length} replica(s)` }));
    }
    for (const i of instances) {
      this.prober.forget(i.id);
      if (!i.deletionTimestamp) await deleteReplica(this.d.store, i);
    }
    if (instances.length) { this.d.bus.poke(); return { requeueAfterMs: 300 }; }
    await this.d.store.tx(async (q) => {
      const r = new Resources(q);
      for (const c of await r.ownedBy(app.id)) await r.delete(c);
      if (this.d.networkGroups) await deleteAppGroup(q, this.d.identity, app.project, app.name);
      await this.d.identity.consumeQuota(q, app.project, { apps: -1 });
      await r.delete(app);
    });
    this.d.bus.poke();
  }
}
