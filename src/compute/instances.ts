/**
 * The instance kind: spec validation and normalisation (flavor → size,
 * image → id), quota consumed in the create transaction, state guards for
 * updates. The controller does the work; this file only records intent.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { InstanceNetworking } from './networking.ts';
import type { ApiContext } from '../api/context.ts';
import { type ResourceCallContext, registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import type { Resource } from '../core/resource.ts';
import type { Sql } from '../store/types.ts';
import { type Size, adHocSize, flavorSize, resolveFlavor } from './flavors.ts';
import type { ImageService } from './images-service.ts';
import type { InstanceSpec, InstanceStatus } from './types.ts';
import { checkInstanceType } from './vm/types.ts';

export type Instance = Resource<InstanceSpec, InstanceStatus>;

const Str = (max = 256) => Type.String({ maxLength: max });
export const InstanceSpecSchema = Type.Object({
  image: Type.String({ minLength: 1, maxLength: 63 }),
  type: Type.Optional(Type.Union([Type.Literal('container'), Type.Literal('vm')])),
  flavor: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
  diskGb: Type.Optional(Type.Integer({ minimum: 0, maximum: 65536 })),
  command: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 4096 })),
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 }), Type.String({ maxLength: 65536 }))),
  workingDir: Type.Optional(Type.String({ pattern: '^/', maxLength: 4096 })),
  userData: Type.Optional(Type.String({ maxLength: 65536 })),
  restartPolicy: Type.Optional(Type.Union([Type.Literal('never'), Type.Literal('on-failure'), Type.Literal('always')])),
  networks: Type.Optional(Type.Array(Str(63), { maxItems: 16 })),
  securityGroups: Type.Optional(Type.Array(Str(63), { maxItems: 16 })),
  hostname: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$' })),
  pool: Type.Optional(Str(63)),
  zone: Type.Optional(Str(63)),
  hostLabels: Type.Optional(Type.Record(Str(63), Str(63))),
  serverGroup: Type.Optional(Str(63)),
  powerState: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('stopped')])),
  rebootCount: Type.Optional(Type.Integer({ minimum: 0 })),
  rebuildCount: Type.Optional(Type.Integer({ minimum: 0 })),
  allowRestart: Type.Optional(Type.Boolean()),
  // Derived by the service (ignored on input): the resolved size and image id.
  size: Type.Optional(Type.Object({ vcpus: Type.Number(), ramMb: Type.Integer(), diskGb: Type.Integer(), pids: Type.Integer() })),
  imageId: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

/** vCPU quota is counted in whole vCPUs. */
export const quotaOf = (s: Size) => ({ instances: 1, vcpus: Math.ceil(s.vcpus), ram_mb: s.ramMb });

/** Resolves the size an instance spec asks for. */
export async function sizeOf(q: Sql, c: ResourceCallContext, spec: Pick<InstanceSpec, 'flavor' | 'cpus' | 'memoryMb' | 'diskGb'>): Promise<Size> {
  if (spec.flavor) {
    if (spec.cpus !== undefined || spec.memoryMb !== undefined) throw invalid('/spec/flavor', 'give either a flavor or cpus/memoryMb, not both');
    return flavorSize((await resolveFlavor(q, c.scope.project, spec.flavor)).spec);
  }
  return adHocSize(spec.cpus, spec.memoryMb, spec.diskGb ?? 1);
}

/** States the controller treats as "the workload is up or coming up". */
export const ACTIVE_STATES = new Set(['pending', 'scheduled', 'starting', 'running']);

export interface InstanceKindDeps {
  images: ImageService;
  networking?: InstanceNetworking;
  /** Resize/creation checks that need the scheduler live in actions.ts. */
}

const same = (a?: string[], b?: string[]) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** An update may move the instance to other security groups (live); its networks stay what they were at create. */
async function networkingChange(networking: InstanceNetworking | undefined, c: ResourceCallContext, prev: Instance, spec: InstanceSpec): Promise<void> {
  if (!same(prev.spec.networks, spec.networks)) throw new YunError('InvalidState', 'the networks of an instance are fixed at create; create a new instance instead', { field: '/spec/networks' });
  if (same(prev.spec.securityGroups, spec.securityGroups)) return;
  if (!networking?.setSecurityGroups) throw new YunError('InvalidState', `the '${networking?.name ?? 'none'}' networking cannot change security groups`, { field: '/spec/securityGroups' });
  await networking.setSecurityGroups(c.q, prev.project, prev.id, spec.securityGroups);
}

export function instanceRoutes(app: FastifyInstance, ctx: ApiContext, deps: InstanceKindDeps): void {
  registerResource<InstanceSpec, InstanceStatus>(app, ctx, {
    kind: 'instance', plural: 'instances', service: 'compute', idPrefix: 'i', spec: InstanceSpecSchema, deletion: 'finalize',
    initialStatus: () => ({ state: 'pending' }),
    async prepare(spec, c, prev) {
      for (const k of Object.keys(spec.env ?? {})) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(`/spec/env/${k}`, `bad environment variable name '${k}'`);
      if (spec.command?.some((a) => a.includes('\0'))) throw invalid('/spec/command', 'command arguments must not contain NUL');
      const size = await sizeOf(c.q, c, spec);
      const img = await deps.images.resolve(c.q, c.scope.project.id, spec.image);
      if (img.status.state === 'error') throw new YunError('InvalidState', `image '${spec.image}' failed: ${img.status.reason ?? 'unknown'}`);
      checkInstanceType(spec, img);
      if (!prev) await deps.networking?.validate?.(c.q, c.scope.project.id, spec.networks, spec.securityGroups);
      else await networkingChange(deps.networking, c, prev, spec);
      const minRam = img.spec.minRamMb ?? 0;
      let minVcpus = 0;
      let minRamFromFlavor = 0;
      if (img.spec.minFlavor) {
        const f = await resolveFlavor(c.q, c.scope.project, img.spec.minFlavor).catch(() => undefined);
        if (f) { minVcpus = f.spec.vcpus; minRamFromFlavor = f.spec.ramMb; }
      }
      if (size.ramMb < Math.max(minRam, minRamFromFlavor) || size.vcpus < minVcpus)
        throw invalid('/spec/flavor', `image '${spec.image}' needs at least ${minVcpus || 0} vCPU and ${Math.max(minRam, minRamFromFlavor)} MiB (minimum flavor ${img.spec.minFlavor ?? 'none'})`);
      if (spec.serverGroup && !NAME_RE.test(spec.serverGroup)) throw invalid('/spec/serverGroup', 'serverGroup must be a server group name');
      if (prev?.spec.size && JSON.stringify(prev.spec.size) !== JSON.stringify(size))
        throw new YunError('InvalidState', 'change the size with POST /v1/instances/:name/actions/resize, not an update');
      if (prev && prev.spec.imageId !== img.id && (prev.spec.rebuildCount ?? 0) === (spec.rebuildCount ?? 0))
        throw new YunError('InvalidState', 'change the image with POST /v1/instances/:name/actions/rebuild');
      return { ...spec, size, imageId: img.id };
    },
    async afterCreate(r, c) {
      await ctx.identity.consumeQuota(c.q, r.project, quotaOf(r.spec.size!));
    },
    async beforeUpdate(prev) {
      if (prev.status.state === 'deleting') throw new YunError('InvalidState', `instance '${prev.name}' is being deleted`);
    },
    async beforeDelete(r, c) {
      // Deleting a running instance stops it first: the controller's finalizer does that.
      if (!r.deletionTimestamp) await c.resources.updateStatus<InstanceStatus>('instance', r.id, (s) => ({ ...s, state: 'deleting' }));
    },
  });
}
