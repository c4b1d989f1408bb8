/**
 * Instance groups (kind `instance-group`, like an AWS auto scaling group):
 * N identical compute instances from a template. The controller keeps
 * `spec.size` live members: it creates missing ones, removes extra ones
 * (not-yet-running first, then the newest) and replaces members that
 * failed (`error`, or `exited` with restartPolicy never). Members are
 * compute `instance`s owned by the group and labelled `yun-group=<name>`;
 * they are made through compute's exported sizing, image resolution and
 * quota accounting, in one transaction, like the instances API does.
 * Deleting the group (finalizer) deletes its members, then the group.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { type ResourceCallContext, registerResource } from '../api/resources.ts';
import type { ImageService } from '../compute/images-service.ts';
import { type Instance, InstanceSpecSchema, quotaOf, sizeOf } from '../compute/instances.ts';
import type { InstanceSpec, InstanceStatus } from '../compute/types.ts';
import { WorkQueue, type ReconcileResult } from '../compute/workqueue.ts';
import { YunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Resource } from '../core/resource.ts';
import type { IdentityService } from '../identity/service.ts';
import { type EventBus, Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';

export const GROUP_KIND = 'instance-group';
export const GROUP_LABEL = 'yun-group';

export interface GroupSpec {
  image: string;
  flavor?: string;
  cpus?: number;
  memoryMb?: number;
  command?: string[];
  env?: Record<string, string>;
  restartPolicy?: 'never' | 'on-failure' | 'always';
  /** Desired number of members (the autoscaler changes it). */
  size: number;
}

export interface GroupStatus {
  state?: 'Pending' | 'Scaling' | 'Ready' | 'Degraded' | 'Deleting';
  size?: number;
  running?: number;
  members?: { name: string; state?: string }[];
  replaced?: number;
  message?: string;
  observedGeneration?: number;
  [k: string]: unknown;
}

export type Group = Resource<GroupSpec, GroupStatus>;

const P = InstanceSpecSchema.properties;
export const GroupSpecSchema = Type.Object({
  image: P.image, flavor: P.flavor, cpus: P.cpus, memoryMb: P.memoryMb, command: P.command, env: P.env, restartPolicy: P.restartPolicy,
  size: Type.Integer({ minimum: 0, maximum: 1000 }),
}, { additionalProperties: false });

export interface GroupDeps {
  images: () => ImageService | undefined;
}

export function groupRoutes(app: FastifyInstance, ctx: ApiContext, deps: GroupDeps): void {
  registerResource<GroupSpec, GroupStatus>(app, ctx, {
    kind: GROUP_KIND, plural: 'instance-groups', service: 'autoscale', idPrefix: 'ig', spec: GroupSpecSchema, deletion: 'finalize',
    initialStatus: () => ({ state: 'Pending', size: 0, running: 0 }),
    async prepare(spec, c) {
      await sizeOf(c.q, c, spec);
      const images = deps.images();
      if (images) await images.resolve(c.q, c.scope.project.id, spec.image);
      return spec;
    },
  });
}

const FAILED = new Set(['error']);

export interface GroupControllerDeps {
  store: StateStore;
  bus: EventBus;
  log: Logger;
  identity: IdentityService;
  images: () => ImageService | undefined;
  resyncMs?: number;
}

export class GroupController {
  private readonly queue: WorkQueue;
  private unsubscribe?: () => void;
  private resync?: NodeJS.Timeout;
  private readonly failing = new Map<string, { n: number; next: number }>();

  constructor(private readonly d: GroupControllerDeps) {
    this.queue = new WorkQueue((k) => this.reconcile(k), (k, e) => d.log.warn({ group: k, err: e }, 'instance group reconcile failed'), 2);
  }

  async start(): Promise<void> {
    const since = await this.d.bus.lastSeq();
    this.unsubscribe = this.d.bus.subscribe({ kinds: [GROUP_KIND, 'instance'] }, since, (e) => {
      if (e.kind === GROUP_KIND) this.queue.add(e.object.id);
      else if (e.object.ownerId?.startsWith('ig-')) this.queue.add(e.object.ownerId);
    });
    const all = async () => { for (const g of await new Resources(this.d.store).all(GROUP_KIND)) this.queue.add(g.id); };
    await all();
    this.resync = setInterval(() => { void all().catch(() => undefined); }, this.d.resyncMs ?? 5000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.resync) clearInterval(this.resync);
    await this.queue.stop();
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    const res = new Resources(this.d.store);
    const g = await res.getById<GroupSpec, GroupStatus>(id);
    if (!g || g.kind !== GROUP_KIND) return undefined;
    const members = (await res.ownedBy(g.id)).filter((c) => c.kind === 'instance') as unknown as Instance[];
    if (g.deletionTimestamp) {
      for (const m of members) await this.remove(m);
      if (!members.length) await res.delete(g);
      else await res.updateStatus<GroupStatus>(GROUP_KIND, g.id, (s) => ({ ...s, state: 'Deleting', message: `${members.length} member(s) still deleting` }));
      return members.length ? { requeueAfterMs: 500 } : undefined;
    }
    let live = members.filter((m) => !m.deletionTimestamp);
    let replaced = 0;
    for (const m of live) {
      const gone = FAILED.has(m.status.state ?? '') || (m.status.state === 'exited' && (g.spec.restartPolicy ?? 'always') === 'never');
      if (gone) { await this.remove(m); replaced++; }
    }
    if (replaced) live = live.filter((m) => !(FAILED.has(m.status.state ?? '') || (m.status.state === 'exited' && (g.spec.restartPolicy ?? 'always') === 'never')));
    let message: string | undefined;
    const before = live.length;
    // Members that keep failing (no capacity, a bad image) are replaced with a growing delay, never in a tight loop.
    const now = Date.now();
    let fb = this.failing.get(g.id) ?? { n: 0, next: 0 };
    if (replaced) {
      fb = { n: fb.n + 1, next: now + Math.min(60_000, 500 * 2 ** fb.n) };
      this.failing.set(g.id, fb);
    }
    const waitMs = fb.next - now;
    if (live.length < g.spec.size && waitMs > 0) {
      message = `${fb.n} round(s) of failed members; next replacement in ${Math.ceil(waitMs / 1000)}s`;
    } else if (live.length < g.spec.size) {
      for (let n = live.length; n < g.spec.size; n++) {
        try {
          live.push(await this.create(g));
        } catch (e) {
          message = `cannot add a member: ${(e as Error).message}`;
          this.d.log.warn({ group: g.name, err: e }, 'instance group: create failed');
          break;
        }
      }
    } else if (live.length > g.spec.size) {
      const order = [...live].sort((a, b) => Number(a.status.state === 'running') - Number(b.status.state === 'running') || b.createdAt.localeCompare(a.createdAt));
      for (const m of order.slice(0, live.length - g.spec.size)) await this.remove(m);
      const gone = new Set(order.slice(0, live.length - g.spec.size).map((m) => m.id));
      live = live.filter((m) => !gone.has(m.id));
    }
    const changed = replaced > 0 || live.length !== before;
    const running = live.filter((m) => m.status.state === 'running').length;
    const state: GroupStatus['state'] = message ? 'Degraded' : running === g.spec.size && live.length === g.spec.size ? 'Ready' : 'Scaling';
    await res.updateStatus<GroupStatus>(GROUP_KIND, g.id, (s) => ({
      ...s, state, size: live.length, running, members: live.map((m) => ({ name: m.name, state: m.status.state })),
      replaced: (s.replaced ?? 0) + replaced, message, observedGeneration: g.generation,
    }));
    if (changed) this.d.bus.poke();
    if (running === g.spec.size && live.length === g.spec.size) this.failing.delete(g.id);
    if (waitMs > 0 && live.length < g.spec.size) return { requeueAfterMs: waitMs };
    // Quota or capacity failures retry with the work queue's growing delay rather than a tight loop.
    if (message) throw new YunError('Unavailable', message);
    return undefined;
  }

  private async create(g: Group): Promise<Instance> {
    const images = this.d.images();
    if (!images) throw new YunError('Unavailable', 'the compute service is not running in this control plane');
    return this.d.store.tx(async (q) => {
      const project = await this.d.identity.requireProject(g.project, q);
      const c = { q, scope: { project, role: 'admin' } } as unknown as ResourceCallContext;
      const want = g.spec.flavor ? { flavor: g.spec.flavor } : { cpus: g.spec.cpus ?? 0.25, memoryMb: g.spec.memoryMb ?? 128 };
      const size = await sizeOf(q, c, want);
      const img = await images.resolve(q, project.id, g.spec.image);
      if (img.status.state !== 'available') throw new YunError('InvalidState', `image '${g.spec.image}' is ${img.status.state ?? 'pending'}`);
      const spec: InstanceSpec = {
        image: g.spec.image, ...want, size, imageId: img.id, restartPolicy: g.spec.restartPolicy ?? 'always',
        ...(g.spec.command ? { command: g.spec.command } : {}), ...(g.spec.env ? { env: g.spec.env } : {}),
      };
      const inst = await new Resources(q).create<InstanceSpec, InstanceStatus>({
        kind: 'instance', project: project.id, name: `${g.name.slice(0, 50)}-${randomBytes(3).toString('hex')}`, idPrefix: 'i',
        labels: { [GROUP_LABEL]: g.name }, spec, status: { state: 'pending' }, ownerId: g.id,
      });
      await this.d.identity.consumeQuota(q, project.id, quotaOf(size));
      return inst;
    });
  }

  /** Starts a member's finalized deletion (compute stops it and releases its quota). */
  private async remove(m: Instance): Promise<void> {
    await this.d.store.tx(async (q) => {
      const res = new Resources(q);
      const cur = await res.getById<InstanceSpec, InstanceStatus>(m.id);
      if (!cur || cur.deletionTimestamp) return;
      await res.updateStatus<InstanceStatus>('instance', cur.id, (s) => ({ ...s, state: 'deleting' }));
      await res.markDeleting(cur);
    });
  }
}
