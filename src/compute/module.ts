/**
 * The compute service as a cloud module: flavors, images, instances, server
 * groups and pools routes; the scheduler; the instance controller (this
 * host's agent, in-process); the metadata server.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import type { CloudConfig } from '../core/config.ts';
import { poolRoutes } from '../scheduler/pools.ts';
import { Scheduler, schedulerMigrations } from '../scheduler/placement.ts';
import { WEIGHERS } from '../scheduler/weighers.ts';
import type { ServiceModule } from '../services.ts';
import { actionRoutes } from './actions.ts';
import { InstanceController, isolationGaps } from './controller.ts';
import { OciDriver } from './drivers/oci/driver.ts';
import { ProcessDriver } from './drivers/process/driver.ts';
import type { ComputeCapabilities, ComputeDriver } from './drivers/types.ts';
import { flavorRoutes, seedFlavors } from './flavors.ts';
import { ImageService, imageRoutes, imagesDirOf } from './images-service.ts';
import { instanceRoutes } from './instances.ts';
import { MetadataService } from './metadata.ts';
import { type InstanceNetworking, NoNetworking } from './networking.ts';

export interface ComputeOptions {
  /** `auto` (default): oci when root and crun/runc are present, else process. Or a driver instance (tests: the fake). */
  driver?: 'auto' | 'oci' | 'process' | ComputeDriver;
  /** The network service's implementation; default loopback only. */
  networking?: InstanceNetworking;
  /** Metadata server port; default the one used last time, else a free one. */
  metadataPort?: number;
  weigher?: 'spread' | 'pack';
  pollMs?: number;
  resyncMs?: number;
  stopTimeoutMs?: number;
  /** Run this host's instance controller (agent). Default true. */
  controller?: boolean;
  /** Wraps the chosen driver (VM support routes VM workloads to qemu: src/compute/vm/). */
  wrapDriver?: (d: ComputeDriver) => ComputeDriver;
}

const hasOciRuntime = () => ['/usr/bin/crun', '/usr/sbin/crun', '/usr/bin/runc', '/usr/sbin/runc'].some((p) => existsSync(p));

export class ComputeModule implements ServiceModule {
  readonly name = 'compute';
  readonly migrations = schedulerMigrations;
  readonly driver: ComputeDriver;
  readonly networking: InstanceNetworking;
  scheduler?: Scheduler;
  images?: ImageService;
  metadata?: MetadataService;
  controller?: InstanceController;
  caps?: ComputeCapabilities;
  private hostId?: string;

  constructor(private readonly config: CloudConfig, private readonly o: ComputeOptions = {}) {
    const d = o.driver ?? 'auto';
    const base = join(config.home, 'compute');
    if (typeof d === 'object') this.driver = d;
    else if (d === 'oci' || (d === 'auto' && process.getuid?.() === 0 && hasOciRuntime())) this.driver = new OciDriver({ stateDir: join(base, 'oci') });
    else this.driver = new ProcessDriver({ stateDir: join(base, 'process') });
    if (o.wrapDriver) this.driver = o.wrapDriver(this.driver);
    this.networking = o.networking ?? new NoNetworking();
  }

  routes(app: FastifyInstance, ctx: ApiContext): void {
    this.scheduler ??= new Scheduler(ctx.store, { weigher: WEIGHERS[this.o.weigher ?? 'spread'] });
    this.images ??= new ImageService(ctx.store, imagesDirOf(this.config.home), ctx.log, () => ctx.bus.poke());
    flavorRoutes(app, ctx);
    imageRoutes(app, ctx, this.images);
    instanceRoutes(app, ctx, { images: this.images, networking: this.networking });
    actionRoutes(app, ctx, { driver: this.driver, caps: () => this.caps, scheduler: this.scheduler, images: this.images, hostId: () => this.hostId });
    poolRoutes(app, ctx, () => this.scheduler);
  }

  async start(ctx: ApiContext & { hostId: string }): Promise<void> {
    this.hostId = ctx.hostId;
    this.scheduler ??= new Scheduler(ctx.store, { weigher: WEIGHERS[this.o.weigher ?? 'spread'] });
    this.images ??= new ImageService(ctx.store, imagesDirOf(this.config.home), ctx.log, () => ctx.bus.poke());
    await seedFlavors(ctx.store);
    await this.scheduler.load();
    this.caps = await this.driver.capabilities();
    if (!this.caps.available) ctx.log.warn({ driver: this.driver.name, reason: this.caps.reason }, 'compute driver unavailable on this host');
    this.metadata = new MetadataService({ store: ctx.store, log: ctx.log, dir: join(this.config.home, 'compute'), port: this.o.metadataPort, zone: this.config.zone });
    await this.metadata.start();
    await this.images.resume();
    if (this.o.controller !== false) {
      this.controller = new InstanceController({
        store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, driver: this.driver, caps: this.caps,
        scheduler: this.scheduler, images: this.images, networking: this.networking, metadata: this.metadata, hostId: ctx.hostId,
        pollMs: this.o.pollMs, resyncMs: this.o.resyncMs, stopTimeoutMs: this.o.stopTimeoutMs,
      });
      await this.controller.start();
    }
  }

  async stop(): Promise<void> {
    await this.controller?.stop();
    await this.metadata?.stop();
    await this.images?.idle();
  }

  describe(): Record<string, string> {
    // Before start (yun doctor, host registration) only static facts are known; the first word is the driver name.
    const what: Record<string, string> = {
      oci: 'oci (crun/runc: pid, mount, uts, ipc, net namespaces; cgroup cpu/memory/pids limits; seccomp deny list)',
      process: 'process (NO isolation: no namespaces, no cgroup limits; memory is an rlimit; not root or no crun/runc)',
    };
    const d: Record<string, string> = { compute: what[this.driver.name] ?? this.driver.name };
    if (this.caps) {
      d['compute backend'] = this.caps.available ? this.caps.backend : `unavailable: ${this.caps.reason}`;
      const gaps = isolationGaps(this.caps);
      if (gaps.length) d['compute isolation NOT provided'] = gaps.join(', ');
      d['instance networking'] = this.networking.name;
    }
    return d;
  }
}

export function computeModule(config: CloudConfig, o: ComputeOptions = {}): ComputeModule {
  return new ComputeModule(config, o);
}
