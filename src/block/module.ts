/**
 * The block storage service as a cloud module: volume and snapshot routes,
 * and this host's block controller. Volumes live under
 * `$YUN_HOME/block/<driver>/`; container volumes are loop-mounted under
 * `$YUN_HOME/block/mnt/<volume id>` while attached.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { CloudConfig } from '../core/config.ts';
import { imagesDirOf } from '../compute/images-service.ts';
import type { VmSupport } from '../compute/vm/module.ts';
import type { ServiceModule } from '../services.ts';
import { BlockController } from './controller.ts';
import { type VolumeCapabilities, type VolumeDriver, createVolumeDriver, hasLiveSnapshots } from './drivers/index.ts';
import { VolumePool, poolRoutes } from './pool.ts';
import { snapshotRoutes } from './snapshots.ts';
import type { VolumeType } from './types.ts';
import { volumeRoutes } from './volumes.ts';

export interface BlockOptions {
  /** VM support (qemu driver + the routing compute driver); without it attachments wait. */
  vm?: VmSupport;
  resyncMs?: number;
  /** Volume pool sizing: physical GB (default: the filesystem's size) and overcommit (default 4). */
  pool?: { capacityGb?: number; overcommit?: number };
  /** Run this host's block controller. Default true. */
  controller?: boolean;
}

export class BlockModule implements ServiceModule {
  readonly name = 'block';
  readonly drivers: Record<VolumeType, VolumeDriver>;
  readonly pool: VolumePool;
  controller?: BlockController;
  private caps?: Record<string, VolumeCapabilities>;

  constructor(private readonly config: CloudConfig, private readonly o: BlockOptions = {}) {
    const base = join(config.home, 'block');
    this.pool = new VolumePool({ dir: base, ...o.pool });
    this.drivers = { file: createVolumeDriver('file', { root: join(base, 'file') }), qcow2: createVolumeDriver('qcow2', { root: join(base, 'qcow2') }) };
  }

  private compute() {
    const vm = this.o.vm;
    const router = vm?.router;
    if (!vm || !router) return undefined;
    return { driver: router as import('../compute/drivers/types.ts').ComputeDriver, qemu: vm.qemu, isVm: (id: string) => router.isVm(id) };
  }

  routes(app: FastifyInstance, ctx: ApiContext): void {
    volumeRoutes(app, ctx, { pool: this.pool });
    poolRoutes(app, ctx, this.pool);
    snapshotRoutes(app, ctx, { isVm: (id) => this.o.vm?.router?.isVm(id) ?? false, liveSnapshots: (t) => hasLiveSnapshots(this.drivers[t]) });
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    this.caps = { file: await this.drivers.file.capabilities(), qcow2: await this.drivers.qcow2.capabilities() };
    for (const [n, c] of Object.entries(this.caps)) if (!c.available) ctx.log.warn({ driver: n, reason: c.reason }, 'volume driver unavailable');
    if (this.o.controller === false) return;
    this.controller = new BlockController({
      store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, drivers: this.drivers,
      mountDir: join(this.config.home, 'block', 'mnt'), compute: () => this.compute(), resyncMs: this.o.resyncMs,
      imageRootfs: (id) => join(imagesDirOf(this.config.home), id, 'rootfs'),
    });
    await this.controller.start();
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
  }

  describe(): Record<string, string> {
    const d: Record<string, string> = {};
    for (const [n, c] of Object.entries(this.caps ?? {})) d[`volume driver ${n}`] = c.available ? `${c.backend}; snapshots: ${c.snapshotMethod}${c.containerMount ? '; containers: loop-mounted ext4' : '; VMs only'}` : `unavailable: ${c.reason}`;
    if (!this.caps) d['volume drivers'] = 'file (sparse raw), qcow2';
    return d;
  }
}

export function blockModule(config: CloudConfig, o: BlockOptions = {}): BlockModule {
  return new BlockModule(config, o);
}
