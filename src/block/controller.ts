/**
 * The block controller: level-triggered over volumes and snapshots.
 * `reconcile(id)` reads the resource and what the volume driver (and, for
 * attachments, the compute drivers) report, takes the steps towards the
 * spec and writes status. Volumes: create (blank or from a snapshot),
 * extend, attach/detach (VM: qemu hot-plug; container: mounted filesystem,
 * see attach/container.ts), finalize (detach, delete bytes, release quota).
 * Snapshots: take (of a volume in a running VM: a live copy by QEMU),
 * finalize. Instance events re-check the volumes attached to them (a
 * restarted container needs its mount again; a deleted instance leaves its
 * volumes available). Never holds a store transaction across a driver call.
 * Single host: volumes live on this host's disk.
 */
import { join } from 'node:path';
import { isYunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { type Condition, setCondition } from '../core/resource.ts';
import type { IdentityService } from '../identity/service.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';
import { type ReconcileResult, WorkQueue } from '../compute/workqueue.ts';
import type { ComputeDriver } from '../compute/drivers/types.ts';
import type { QemuDriver } from '../compute/drivers/qemu/index.ts';
import { type SnapshotInfo, type VolumeDriver, filesystemType, gbToBytes, hasLiveSnapshots, isMounted, mountForContainer, prepareFilesystem, unmount } from './drivers/index.ts';
import { bindIntoContainer, mountedIn, unbindFromContainer } from './attach/container.ts';
import { runTool } from './drivers/common.ts';
import { fillFromImage } from './from-image.ts';
import type { SnapshotStatus, VolumeAttachmentStatus, VolumeSpec, VolumeStatus, VolumeType } from './types.ts';
import { type Snapshot, type Volume, volumeQuota } from './volumes.ts';

export interface BlockControllerDeps {
  store: StateStore;
  bus: EventBus;
  log: Logger;
  identity: IdentityService;
  drivers: Record<VolumeType, VolumeDriver>;
  /** Where container volumes are loop-mounted on the host (one dir per volume). */
  mountDir: string;
  /** Compute's driver (for container pids) and the qemu driver (hot-plug); absent: attach stays pending. */
  compute: () => { driver: ComputeDriver; qemu: QemuDriver; isVm(id: string): boolean } | undefined;
  /** Host directory of an image's content (volumes from images). */
  imageRootfs: (imageId: string) => string;
  resyncMs?: number;
}

export class BlockController {
  private readonly queue: WorkQueue;
  private readonly res: Resources;
  private unsubscribe?: () => void;
  private resync?: NodeJS.Timeout;

  constructor(private readonly d: BlockControllerDeps) {
    this.res = new Resources(d.store);
    this.queue = new WorkQueue((id) => this.reconcile(id), (id, e) => d.log.warn({ err: e, resource: id }, 'block reconcile failed; retrying'));
  }

  async start(): Promise<void> {
    const since = await this.d.bus.lastSeq();
    await this.enqueueAll();
    this.unsubscribe = this.d.bus.subscribe({ kinds: ['volume', 'volume-snapshot', 'instance'] }, since, (e) => {
      if (e.kind === 'instance') void this.enqueueAttachedTo(e.object.id);
      else this.queue.add(e.object.id);
    });
    this.resync = setInterval(() => { void this.enqueueAll(); }, this.d.resyncMs ?? 5000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.resync) clearInterval(this.resync);
    await this.queue.stop();
  }

  private async enqueueAll(): Promise<void> {
    for (const k of ['volume', 'volume-snapshot']) for (const r of await this.res.all(k).catch(() => [])) this.queue.add(r.id);
  }

  private async enqueueAttachedTo(instanceId: string): Promise<void> {
    const rows = await this.d.store.all<{ id: string }>("SELECT id FROM resources WHERE kind = 'volume' AND (spec LIKE ? OR status LIKE ?)", [`%"instanceId":"${instanceId}"%`, `%"instanceId":"${instanceId}"%`]).catch(() => []);
    for (const r of rows) this.queue.add(r.id);
  }

  private driver(t: VolumeType | undefined): VolumeDriver {
    return this.d.drivers[t ?? 'file'];
  }

  private async setStatus<St extends VolumeStatus | SnapshotStatus>(kind: string, id: string, patch: Partial<St>, gen?: number): Promise<void> {
    await this.d.store.tx((q) => new Resources(q).updateStatus<St>(kind, id, (s) => {
      const next = { ...s, ...patch, ...(gen !== undefined ? { observedGeneration: gen } : {}) } as St;
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete (next as Record<string, unknown>)[k];
      if (patch.state) next.conditions = setCondition(s.conditions as Condition[] | undefined, { type: 'Ready', status: ['available', 'in-use'].includes(patch.state) ? 'True' : 'False', reason: patch.state, ...(patch.reason ? { message: patch.reason as string } : {}) });
      return next;
    }));
    this.d.bus.poke();
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    const r = await this.res.getById(id);
    if (r?.kind === 'volume') return this.volume(r as unknown as Volume);
    if (r?.kind === 'volume-snapshot') return this.snapshot(r as unknown as Snapshot);
  }

  private hostMount(v: { id: string }): string {
    return join(this.d.mountDir, v.id);
  }

  private async volume(v: Volume): Promise<ReconcileResult> {
    if (v.deletionTimestamp) return this.finalizeVolume(v);
    const drv = this.driver(v.spec.type);
    let info = await drv.inspect(v.id);
    if (!info) {
      if (v.status.state === 'error' && v.status.observedGeneration === v.generation) return;
      try {
        info = await drv.create(v.id, v.spec.sizeGb, v.spec.fromSnapshotId ? { fromSnapshot: v.spec.fromSnapshotId } : {});
      } catch (e) {
        if (isYunError(e) && (e.code === 'ValidationFailed' || e.code === 'NotFound')) {
          await this.setStatus<VolumeStatus>('volume', v.id, { state: 'error', reason: e.message }, v.generation);
          return;
        }
        throw e;
      }
    }
    if (v.spec.fromImageId && !v.status.filledFromImage) {
      try {
        await fillFromImage(await drv.attachment(v.id), this.d.imageRootfs(v.spec.fromImageId), info.virtualBytes);
      } catch (e) {
        if (isYunError(e) && e.code === 'ValidationFailed') {
          await this.setStatus<VolumeStatus>('volume', v.id, { state: 'error', reason: e.message }, v.generation);
          return;
        }
        throw e;
      }
      await this.setStatus<VolumeStatus>('volume', v.id, { filledFromImage: true });
    }
    const c = this.d.compute();
    let have = v.status.attachment;
    if (info.virtualBytes < gbToBytes(v.spec.sizeGb)) {
      await this.setStatus<VolumeStatus>('volume', v.id, { state: 'extending' });
      await this.extend(v, drv, have, c);
      info = (await drv.inspect(v.id)) ?? info;
    }
    const want = v.spec.attachment;
    const inst = want ? await this.res.getById(want.instanceId) : undefined;
    if (want && (!inst || inst.deletionTimestamp)) {
      // The instance went away: the volume outlives it and becomes available again.
      await this.d.store.tx(async (q) => {
        const cur = await new Resources(q).getById<VolumeSpec, VolumeStatus>(v.id);
        if (!cur?.spec.attachment || cur.spec.attachment.instanceId !== want.instanceId) return;
        const spec = { ...cur.spec };
        delete spec.attachment;
        await new Resources(q).updateSpec(cur, { spec });
      });
    }
    if (have && (!want || !inst || inst.deletionTimestamp || want.instanceId !== have.instanceId || want.mountPath !== have.mountPath)) {
      await this.setStatus<VolumeStatus>('volume', v.id, { state: 'detaching' });
      await this.detach(v, have, c);
      await this.setStatus<VolumeStatus>('volume', v.id, { attachment: undefined });
      have = undefined;
    }
    const base = { sizeGb: info.sizeGb, allocatedBytes: info.allocatedBytes, format: info.format, reason: undefined };
    if (want && inst && !inst.deletionTimestamp) {
      if (!c) {
        await this.setStatus<VolumeStatus>('volume', v.id, { ...base, state: 'attaching', reason: 'compute is not running on this host' }, v.generation);
        return { requeueAfterMs: 2000 };
      }
      const att = await this.attach(v, want, have, c);
      if (!att) {
        await this.setStatus<VolumeStatus>('volume', v.id, { ...base, state: 'attaching', reason: `waiting for instance '${want.instance}' to be created` }, v.generation);
        return { requeueAfterMs: 1000 };
      }
      await this.setStatus<VolumeStatus>('volume', v.id, { ...base, state: 'in-use', attachment: att }, v.generation);
      return att.kind === 'container' ? { requeueAfterMs: 2000 } : undefined;
    }
    await this.setStatus<VolumeStatus>('volume', v.id, { ...base, state: 'available', attachment: undefined }, v.generation);
  }

  /** Makes the attachment true; undefined while the instance's workload does not exist yet. */
  private async attach(v: Volume, want: NonNullable<VolumeSpec['attachment']>, have: VolumeAttachmentStatus | undefined, c: NonNullable<ReturnType<BlockControllerDeps['compute']>>): Promise<VolumeAttachmentStatus | undefined> {
    const file = await this.driver(v.spec.type).attachment(v.id);
    if (c.isVm(want.instanceId)) {
      if (!have) await this.setStatus<VolumeStatus>('volume', v.id, { state: 'attaching' });
      await c.qemu.attachVolume(want.instanceId, { volumeId: v.id, path: file.path, format: file.format });
      return { instanceId: want.instanceId, instance: want.instance, kind: 'vm', serial: v.id.slice(0, 20), attachedAt: have?.attachedAt ?? new Date().toISOString() };
    }
    const w = await c.driver.inspect(want.instanceId);
    if (!w) return undefined;
    const mountPath = want.mountPath ?? `/mnt/${v.name}`;
    const pid = w.state === 'running' ? w.pid : undefined;
    if (have?.pid === pid && pid && (await mountedIn(pid, mountPath))) return have;
    if (!have) await this.setStatus<VolumeStatus>('volume', v.id, { state: 'attaching' });
    await this.growIfPending(v);
    await prepareFilesystem(file, { label: v.name });
    await mountForContainer(file, this.hostMount(v));
    if (pid) await bindIntoContainer(pid, this.hostMount(v), mountPath);
    return { instanceId: want.instanceId, instance: want.instance, kind: 'container', mountPath, ...(pid ? { pid } : {}), attachedAt: have?.attachedAt ?? new Date().toISOString() };
  }

  private async detach(v: Volume, have: VolumeAttachmentStatus, c: ReturnType<BlockControllerDeps['compute']>): Promise<void> {
    if (have.kind === 'vm') {
      if (c && (await c.qemu.inspect(have.instanceId))) await c.qemu.detachVolume(have.instanceId, v.id);
      return;
    }
    const w = c ? await c.driver.inspect(have.instanceId) : undefined;
    if (have.mountPath && w?.state === 'running' && w.pid) await unbindFromContainer(w.pid, have.mountPath);
    await unmount(this.hostMount(v));
    await this.growIfPending(v);
  }

  private async extend(v: Volume, drv: VolumeDriver, have: VolumeAttachmentStatus | undefined, c: ReturnType<BlockControllerDeps['compute']>): Promise<void> {
    const bytes = gbToBytes(v.spec.sizeGb);
    const live = have?.kind === 'vm' && c && (await c.qemu.inspect(have.instanceId))?.state === 'running';
    if (live && drv.name === 'qcow2') {
      await c!.qemu.resizeVolume(have!.instanceId, v.id, bytes);
      return;
    }
    await drv.extend(v.id, v.spec.sizeGb);
    if (live) await c!.qemu.resizeVolume(have!.instanceId, v.id, bytes);
    if (have?.kind === 'container' && (await isMounted(this.hostMount(v)))) {
      // ext4 grows online: refresh the loop device's size, then resize2fs on the mounted filesystem.
      // That needs CAP_SYS_RESOURCE; without it the filesystem grows offline at the next detach or attach.
      const file = await drv.attachment(v.id);
      const loops = (await runTool('losetup', ['-j', file.path])).split('\n').map((l) => l.split(':')[0]).filter(Boolean) as string[];
      try {
        for (const dev of loops) {
          await runTool('losetup', ['-c', dev]);
          await runTool('resize2fs', [dev]);
        }
      } catch (e) {
        this.d.log.warn({ err: e, volume: v.id }, 'online filesystem resize failed; it grows at the next detach');
        await this.setStatus<VolumeStatus>('volume', v.id, { fsResizePending: true, message: `the filesystem grows when the volume is next detached or attached (online resize failed: ${(e as Error).message.split('\n').slice(-1)[0]})` });
      }
    } else if (v.spec.type !== 'qcow2' && (!have || have.kind === 'container')) {
      await this.setStatus<VolumeStatus>('volume', v.id, { fsResizePending: true });
    }
  }

  /** Grows an unmounted volume's filesystem after an extend that could not do it online. */
  private async growIfPending(v: Volume): Promise<void> {
    const cur = await this.res.getById<VolumeSpec, VolumeStatus>(v.id);
    if (!cur?.status.fsResizePending || (await isMounted(this.hostMount(v)))) return;
    const file = await this.driver(v.spec.type).attachment(v.id);
    if ((await runTool('losetup', ['-j', file.path])).trim()) return; // still held (a lazy unmount): try again at the next attach
    if (await filesystemType(file)) {
      // e2fsck exits 1 when it corrected something (free counts after an unclean state): still fine to resize.
      await runTool('e2fsck', ['-f', '-p', file.path]).catch((e: unknown) => {
        if ((e as { cause?: { code?: unknown } }).cause?.code !== 1) throw e;
      });
      await runTool('resize2fs', [file.path]);
    }
    await this.setStatus<VolumeStatus>('volume', v.id, { fsResizePending: undefined, message: undefined });
  }

  private async finalizeVolume(v: Volume): Promise<undefined> {
    if (v.status.state !== 'deleting') await this.setStatus<VolumeStatus>('volume', v.id, { state: 'deleting' });
    if (v.status.attachment) await this.detach(v, v.status.attachment, this.d.compute());
    await unmount(this.hostMount(v));
    await this.driver(v.spec.type).delete(v.id);
    await this.d.store.tx(async (q) => {
      const q0 = volumeQuota(v.spec.sizeGb);
      await this.d.identity.consumeQuota(q, v.project, { volumes: -q0.volumes, volume_gb: -q0.volume_gb });
      await new Resources(q).delete(v);
    });
    this.d.bus.poke();
    return undefined;
  }

  private async snapshot(s: Snapshot): Promise<ReconcileResult> {
    if (s.deletionTimestamp) {
      for (const d of Object.values(this.d.drivers)) await d.deleteSnapshot(s.id);
      await this.d.store.tx(async (q) => {
        await this.d.identity.consumeQuota(q, s.project, { snapshots: -1 });
        await new Resources(q).delete(s);
      });
      this.d.bus.poke();
      return;
    }
    if (s.status.state === 'available' || s.status.state === 'error') return;
    const v = await this.res.getById<VolumeSpec, VolumeStatus>(s.spec.volumeId!) as Volume | undefined;
    if (!v) {
      await this.setStatus<SnapshotStatus>('volume-snapshot', s.id, { state: 'error', reason: `volume '${s.spec.volume}' no longer exists` }, s.generation);
      return;
    }
    const drv = this.driver(v.spec.type);
    const info = (await drv.inspectSnapshot(s.id)) ?? (await this.takeSnapshot(s, v, drv));
    if (!info) return { requeueAfterMs: 1000 };
    if (info === 'error') return;
    await this.setStatus<SnapshotStatus>('volume-snapshot', s.id, {
      state: 'available', reason: undefined, sizeGb: info.sizeGb, allocatedBytes: info.allocatedBytes, type: v.spec.type ?? 'file', createdAt: info.createdAt,
    }, s.generation);
  }

  /**
   * Takes the snapshot: of a volume in a running VM, a live copy by QEMU (as
   * of one instant, crash-consistent); of a container's volume, with its
   * filesystem frozen; else a copy of the idle file. Undefined: not now
   * (the volume is being made, or a VM attach/detach is in flight and the
   * copy must know whether a guest writes to it). `error`: recorded.
   */
  private async takeSnapshot(s: Snapshot, v: Volume, drv: VolumeDriver): Promise<SnapshotInfo | 'error' | undefined> {
    if (!(await drv.inspect(v.id))) return undefined;
    const c = this.d.compute();
    const want = v.spec.attachment?.instanceId;
    const have = v.status.attachment;
    if (want !== have?.instanceId && (have?.kind === 'vm' || (want && c?.isVm(want)))) return undefined;
    if (have?.kind === 'vm' && c && (await c.qemu.inspect(have.instanceId))?.state === 'running') {
      if (!hasLiveSnapshots(drv)) {
        await this.setStatus<SnapshotStatus>('volume-snapshot', s.id, { state: 'error', reason: `the ${drv.name} volume driver takes no live snapshots; detach the volume first` }, s.generation);
        return 'error';
      }
      return drv.createLiveSnapshot(v.id, s.id, (target) => c.qemu.copyVolume(have.instanceId, v.id, target));
    }
    const frozen = have?.kind === 'container' ? this.hostMount(v) : undefined;
    if (frozen) await runTool('fsfreeze', ['-f', frozen]);
    try {
      return await drv.createSnapshot(v.id, s.id);
    } finally {
      if (frozen) await runTool('fsfreeze', ['-u', frozen]);
    }
  }
}
