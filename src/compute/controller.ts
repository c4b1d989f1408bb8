/**
 * The instance controller: level-triggered. `reconcile(id)` reads the
 * instance and what the driver reports, takes one step towards the spec and
 * writes status; a thrown error retries with backoff; running instances are
 * polled so exits and OOM kills show promptly; a periodic resync is the
 * backstop. After a control-plane restart it finds running workloads through
 * `driver.inspect` and adopts them (never a second start). Deletion runs as a
 * finalizer: stop, delete the workload, release network, capacity and quota,
 * then remove the row. It only drives instances placed on its own host.
 * Never holds a store transaction across a driver or network call.
 */
import { YunError, isYunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { setCondition } from '../core/resource.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Scheduler } from '../scheduler/placement.ts';
import type { PlacementRequest } from '../scheduler/types.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { liveResizeBlocker, sameLimits } from './drivers/resize.ts';
import { type ComputeCapabilities, type ComputeDriver, type WorkloadSpec, type WorkloadStatus, isLiveResizable } from './drivers/types.ts';
import type { ImageService } from './images-service.ts';
import { type Instance, quotaOf } from './instances.ts';
import type { MetadataService } from './metadata.ts';
import type { InstanceNetworking, NetworkedInstance } from './networking.ts';
import type { InstanceStatus } from './types.ts';
import { type ReconcileResult, WorkQueue } from './workqueue.ts';

export interface ControllerDeps {
  store: StateStore;
  bus: EventBus;
  log: Logger;
  identity: IdentityService;
  driver: ComputeDriver;
  caps: ComputeCapabilities;
  scheduler: Scheduler;
  images: ImageService;
  networking: InstanceNetworking;
  metadata: MetadataService;
  hostId: string;
  /** How often running instances are checked for exits. Default 1000 ms. */
  pollMs?: number;
  resyncMs?: number;
  /** Grace period between SIGTERM and SIGKILL on stop. Default 10 s. */
  stopTimeoutMs?: number;
}

const DEFAULT_COMMAND = ['sleep', '2147483647'];

export function isolationGaps(c: ComputeCapabilities): string[] {
  const gaps = Object.entries(c.isolation).filter(([, v]) => !v).map(([k]) => k);
  for (const [k, v] of Object.entries(c.enforces)) if (!v) gaps.push(`${k}-limit`);
  return gaps;
}

export class InstanceController {
  private readonly queue: WorkQueue;
  private unsubscribe?: () => void;
  private resync?: NodeJS.Timeout;
  private readonly res: Resources;

  constructor(private readonly d: ControllerDeps) {
    this.res = new Resources(d.store);
    this.queue = new WorkQueue((id) => this.reconcile(id), (id, e) => d.log.warn({ err: e, instance: id }, 'reconcile failed; retrying'));
  }

  async start(): Promise<void> {
    await this.collectOrphans();
    const since = await this.d.bus.lastSeq();
    for (const r of await this.res.all('instance')) this.queue.add(r.id);
    this.unsubscribe = this.d.bus.subscribe({ kinds: ['instance'] }, since, (e) => this.queue.add(e.object.id));
    this.resync = setInterval(() => { void this.enqueueAll(); }, this.d.resyncMs ?? 10_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.resync) clearInterval(this.resync);
    await this.queue.stop();
  }

  enqueue(id: string): void {
    this.queue.add(id);
  }

  private async enqueueAll(): Promise<void> {
    for (const r of await this.res.all('instance').catch(() => [])) this.queue.add(r.id);
  }

  /** Workloads the driver holds for instances that no longer exist (kill -9 mid-create or mid-delete). */
  private async collectOrphans(): Promise<void> {
    const ids = new Set((await this.d.store.all<{ id: string }>("SELECT id FROM resources WHERE kind = 'instance'")).map((r) => r.id));
    for (const w of await this.d.driver.list()) {
      if (w.id.startsWith('i-') && !ids.has(w.id)) {
        this.d.log.info({ workload: w.id }, 'deleting orphan workload');
        await this.d.driver.delete(w.id);
      }
    }
  }

  /** A placement not yet written: it rides along with the next status write of the same reconcile. */
  private readonly unwritten = new Map<string, Partial<InstanceStatus>>();

  private async setStatus(id: string, patch: Partial<InstanceStatus>, gen?: number): Promise<void> {
    const carried = this.unwritten.get(id);
    if (carried) {
      this.unwritten.delete(id);
      patch = { ...carried, ...patch };
    }
    // One transaction: the status row and its event commit together (one fsync, not two).
    await this.d.store.tx((q) => new Resources(q).updateStatus<InstanceStatus>('instance', id, (s) => {
      const next: InstanceStatus = { ...s, ...patch, ...(gen !== undefined ? { observedGeneration: gen } : {}) };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
      if (patch.state) {
        next.conditions = setCondition(s.conditions, { type: 'Ready', status: patch.state === 'running' ? 'True' : 'False', reason: patch.state, ...(patch.reason ? { message: patch.reason } : {}) });
      }
      return next;
    }));
    this.d.bus.poke();
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    const r = await this.res.getById(id) as Instance | undefined;
    if (r?.kind !== 'instance') return;
    if (r.deletionTimestamp) return this.finalize(r);
    if (!r.status.hostId) return this.schedule(r);
    if (r.status.hostId !== this.d.hostId) return;
    return this.converge(r);
  }

  private async schedule(r: Instance): Promise<ReconcileResult> {
    if (r.status.state === 'error' && r.status.observedGeneration === r.generation) return;
    const size = r.spec.size!;
    const img = r.spec.imageId ? await this.res.getById(r.spec.imageId) : undefined;
    let serverGroup: PlacementRequest['serverGroup'];
    if (r.spec.serverGroup) {
      const g = await this.res.get<{ policy: 'affinity' | 'anti-affinity' }>('server-group', r.project, r.spec.serverGroup);
      if (!g) { await this.setStatus(r.id, { state: 'error', reason: `server group '${r.spec.serverGroup}' not found` }, r.generation); return; }
      serverGroup = { key: `${r.project}/${g.name}`, policy: g.spec.policy };
    }
    const req: PlacementRequest = {
      consumerId: r.id, amounts: { cpus: size.vcpus, memoryMb: size.ramMb, diskGb: size.diskGb },
      pool: r.spec.pool, zone: r.spec.zone, hostLabels: r.spec.hostLabels, serverGroup,
      arch: (img?.status as { arch?: string } | undefined)?.arch,
    };
    await this.d.scheduler.refresh();
    let p: Awaited<ReturnType<Scheduler['place']>>;
    try {
      p = await this.d.scheduler.place(req);
    } catch (e) {
      if (!(isYunError(e) && e.code === 'NoValidHost')) throw e;
      await this.d.scheduler.load();
      try {
        p = await this.d.scheduler.place(req);
      } catch (e2) {
        if (!(isYunError(e2) && e2.code === 'NoValidHost')) throw e2;
        await this.setStatus(r.id, { state: 'error', reason: e2.message, ...(e2.details ? { schedulerFilter: e2.details.filter as string } : {}) }, r.generation);
        return;
      }
    }
    const placement: Partial<InstanceStatus> = { state: 'scheduled', reason: undefined, hostId: p.hostId, host: p.hostName, pool: p.pool, driver: this.d.driver.name };
    if (p.hostId !== this.d.hostId) {
      await this.setStatus(r.id, placement);
      return;
    }
    // Our own host: go straight on; the placement is written with the first status change
    // ('starting'), saving a commit. If we die before that, the claim in the store makes
    // the next placement of this instance land on the same host (placement is idempotent).
    this.unwritten.set(r.id, placement);
    try {
      return await this.converge({ ...r, status: { ...r.status, ...placement } });
    } finally {
      if (this.unwritten.has(r.id)) await this.setStatus(r.id, {});
    }
  }

  private networked(r: Instance): NetworkedInstance {
    return { id: r.id, name: r.name, project: r.project, networks: r.spec.networks, securityGroups: r.spec.securityGroups, hostname: r.spec.hostname ?? r.name, ...(r.spec.type === 'vm' ? { nicKind: 'tap' as const } : {}) };
  }

  private async workloadSpec(r: Instance): Promise<{ spec: WorkloadSpec; addresses: { network: string; ip: string }[] }> {
    const net = await this.d.networking.prepare(this.networked(r));
    const meta = await this.d.metadata.document(r, net.addresses);
    // VMs hand any user-data to cloud-init (NoCloud: #cloud-config too); containers run only #! scripts
    const userData = r.spec.userData?.startsWith('#!') || (r.spec.type === 'vm' && r.spec.userData) ? r.spec.userData : undefined;
    return {
      addresses: net.addresses,
      spec: {
        id: r.id,
        imageRootfs: this.d.images.rootfs(r.spec.imageId!),
        command: r.spec.command ?? DEFAULT_COMMAND,
        env: { ...r.spec.env, YUN_INSTANCE_ID: r.id, YUN_INSTANCE_NAME: r.name, YUN_METADATA_URL: this.d.metadata.urlFor(r.id) },
        ...(r.spec.workingDir ? { workingDir: r.spec.workingDir } : {}),
        hostname: r.spec.hostname ?? r.name,
        limits: this.limits(r),
        ...(net.netnsPath ? { netnsPath: net.netnsPath } : {}),
        ...(net.nics?.length ? { nics: net.nics } : {}),
        files: [{ path: '/run/yun/meta_data.json', content: JSON.stringify(meta, null, 1), mode: 0o644 }, ...(net.files ?? [])],
        ...(userData ? { userData } : {}),
      },
    };
  }

  private limits(r: Instance) {
    const s = r.spec.size!;
    return { cpus: s.vcpus, memoryMb: s.ramMb, pids: s.pids, ...(r.spec.type === 'vm' && s.diskGb ? { rootDiskGb: s.diskGb } : {}) };
  }

  private runningStatus(w: WorkloadStatus): Partial<InstanceStatus> {
    return { state: 'running', reason: undefined, pid: w.pid, startedAt: w.startedAt, exitCode: undefined, oomKilled: undefined, finishedAt: undefined, limits: w.limits, liveResize: w.liveResize };
  }

  /** Create (first time) and start; returns the running status. */
  private async bringUp(r: Instance, w: WorkloadStatus | undefined): Promise<WorkloadStatus | undefined> {
    const starting: Partial<InstanceStatus> = { state: 'starting', driver: this.d.driver.name, isolationNotProvided: isolationGaps(this.d.caps), metadataUrl: this.d.metadata.urlFor(r.id) };
    if (!w) {
      const { spec, addresses } = await this.workloadSpec(r);
      await this.setStatus(r.id, { ...starting, addresses });
      await this.d.driver.create(spec);
    } else {
      await this.setStatus(r.id, starting);
      await this.resizeForStart(r, w);
    }
    await this.d.driver.start(r.id);
    return this.d.driver.inspect(r.id);
  }

  /** A workload with a live range (a VM) takes any size while stopped, in place: give it before the start, not after. */
  private async resizeForStart(r: Instance, w: WorkloadStatus): Promise<void> {
    const want = this.limits(r);
    if (w.liveResize && isLiveResizable(this.d.driver) && !sameLimits(w.limits, want)) await this.d.driver.resize(r.id, want);
  }

  private async converge(r: Instance): Promise<ReconcileResult> {
    if (!this.d.caps.available) {
      // Say so plainly instead of failing inside the driver on every retry.
      await this.setStatus(r.id, { state: 'error', reason: `this host cannot run ${this.d.driver.name} workloads: ${this.d.caps.reason ?? 'driver unavailable'}` }, r.generation);
      return;
    }
    const poll = { requeueAfterMs: this.d.pollMs ?? 1000 };
    const st = r.status;
    const desired = r.spec.powerState ?? 'running';
    let w = await this.d.driver.inspect(r.id);
    const stopOpts = { timeoutMs: this.d.stopTimeoutMs ?? 10_000 };

    if ((r.spec.rebuildCount ?? 0) !== (st.rebuildCount ?? 0)) {
      if (w) { await this.setStatus(r.id, { state: 'stopping' }); await this.d.driver.delete(r.id); }
      w = undefined;
      await this.setStatus(r.id, { rebuildCount: r.spec.rebuildCount ?? 0, restartCount: 0 });
    }
    if ((r.spec.rebootCount ?? 0) !== (st.rebootCount ?? 0)) {
      if (w?.state === 'running') { await this.setStatus(r.id, { state: 'stopping' }); await this.d.driver.stop(r.id, stopOpts); }
      await this.setStatus(r.id, { rebootCount: r.spec.rebootCount ?? 0, nextRestartAt: undefined });
      if (desired === 'running') {
        w = await this.bringUp(r, w);
        if (w?.state === 'running') await this.setStatus(r.id, this.runningStatus(w), r.generation);
        return poll;
      }
    }

    if (desired === 'stopped') {
      if (w?.state === 'running') {
        await this.setStatus(r.id, { state: 'stopping' });
        await this.d.driver.stop(r.id, stopOpts);
        w = await this.d.driver.inspect(r.id);
      }
      await this.setStatus(r.id, { state: 'stopped', pid: undefined, exitCode: w?.exitCode, finishedAt: w?.finishedAt }, r.generation);
      return;
    }

    if (!w || w.state === 'created' || (w.state === 'exited' && (st.state === 'stopped' || st.state === 'stopping' || st.state === 'scheduled' || st.state === 'starting'))) {
      w = await this.bringUp(r, w);
    } else if (w.state === 'exited') {
      return this.exited(r, w);
    }
    if (!w) throw new YunError('DriverFailed', `workload of ${r.name} vanished after start`);
    if (w.state === 'exited') return this.exited(r, w);
    const pending = await this.applyLimits(r, w);
    await this.setStatus(r.id, { ...this.runningStatus((await this.d.driver.inspect(r.id)) ?? w), ...(pending ? { reason: pending } : {}) }, r.generation);
    return poll;
  }

  /**
   * Resize: live when the workload takes the change live (its `liveResize`
   * range, else the driver's ability); else stop-resize-start when the user
   * allowed a restart. That restart keeps a VM's disks (the stopped VM is
   * resized in place); other workloads are made again. Returns why a
   * resize still waits, if it does.
   */
  private async applyLimits(r: Instance, w: WorkloadStatus): Promise<string | undefined> {
    const want = this.limits(r);
    if (sameLimits(w.limits, want)) return;
    const canLive = isLiveResizable(this.d.driver) && (w.liveResize !== undefined || this.d.caps.liveResize);
    const blocker = !canLive ? `the ${this.d.driver.name} driver cannot resize live` : w.liveResize ? liveResizeBlocker(w.liveResize, want) : undefined;
    if (!blocker && isLiveResizable(this.d.driver)) {
      await this.d.driver.resize(r.id, want);
      return;
    }
    if (!r.spec.allowRestart) return `resize pending: ${blocker}; resize again with allowRestart`;
    await this.setStatus(r.id, { state: 'stopping', reason: 'resize (stop-resize-start)' });
    await this.d.driver.stop(r.id, { timeoutMs: this.d.stopTimeoutMs ?? 10_000 });
    if (w.liveResize) {
      await this.resizeForStart(r, w);
    } else {
      await this.d.driver.delete(r.id);
      const { spec } = await this.workloadSpec(r);
      await this.d.driver.create(spec);
    }
    await this.d.driver.start(r.id);
  }

  /** The workload exited on its own: restart per policy (with backoff) or record how it ended. */
  private async exited(r: Instance, w: WorkloadStatus): Promise<ReconcileResult> {
    const policy = r.spec.restartPolicy ?? 'never';
    const failed = w.oomKilled || (w.exitCode ?? 1) !== 0;
    const restart = policy === 'always' || (policy === 'on-failure' && failed);
    const ended: Partial<InstanceStatus> = {
      pid: undefined, exitCode: w.exitCode, oomKilled: w.oomKilled, finishedAt: w.finishedAt,
      reason: w.oomKilled ? 'the memory limit was hit and the kernel OOM killer ended the workload' : `exited with code ${w.exitCode ?? 'unknown'}`,
    };
    if (!restart) {
      await this.setStatus(r.id, { ...ended, ...(w.failure ? { state: 'error', reason: w.failure } : { state: w.oomKilled ? 'OOMKilled' : 'exited' }) }, r.generation);
      return;
    }
    const n = r.status.restartCount ?? 0;
    const at = r.status.nextRestartAt ? Date.parse(r.status.nextRestartAt) : 0;
    if (!at) {
      const delay = Math.min(60_000, 250 * 2 ** Math.min(n, 8));
      await this.setStatus(r.id, { ...ended, state: w.oomKilled ? 'OOMKilled' : 'exited', nextRestartAt: new Date(Date.now() + delay).toISOString() }, r.generation);
      return { requeueAfterMs: delay };
    }
    if (Date.now() < at) return { requeueAfterMs: at - Date.now() };
    await this.resizeForStart(r, w);
    await this.d.driver.start(r.id);
    const up = await this.d.driver.inspect(r.id);
    await this.setStatus(r.id, { ...(up?.state === 'running' ? this.runningStatus(up) : {}), restartCount: n + 1, nextRestartAt: undefined }, r.generation);
    return { requeueAfterMs: this.d.pollMs ?? 1000 };
  }

  /** A host whose agent heartbeated in the last 90 s (simulated hosts never do). */
  private async hostAlive(hostId: string): Promise<boolean> {
    const h = await this.res.getById(hostId);
    const beat = (h?.status as { lastHeartbeat?: string } | undefined)?.lastHeartbeat;
    return Boolean(beat && Date.now() - Date.parse(beat) < 90_000);
  }

  private async finalize(r: Instance): Promise<ReconcileResult> {
    if (r.status.state !== 'deleting') await this.setStatus(r.id, { state: 'deleting' });
    if (!r.status.hostId || r.status.hostId === this.d.hostId) {
      const w = await this.d.driver.inspect(r.id);
      if (w?.state === 'running') await this.d.driver.stop(r.id, { timeoutMs: this.d.stopTimeoutMs ?? 10_000 });
      await this.d.driver.delete(r.id);
      await this.d.networking.release(this.networked(r));
    } else if (await this.hostAlive(r.status.hostId)) {
      return; // that host's agent tears its workload down
    }
    await this.d.store.tx(async (q) => {
      await q.run('DELETE FROM scheduler_allocations WHERE consumer_id = ?', [r.id]);
      await this.d.identity.consumeQuota(q, r.project, Object.fromEntries(Object.entries(quotaOf(r.spec.size!)).map(([k, v]) => [k, -v])));
      await new Resources(q).delete(r);
    });
    await this.d.scheduler.release(r.id);
    this.d.bus.poke();
  }
}
