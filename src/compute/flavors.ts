/**
 * Flavors: named sizes (vCPUs, RAM MiB, root disk GB) in the system project.
 * A default catalogue like OpenStack's is seeded on start; cloud admins add
 * their own. A flavor with a `projects` list is private to those projects
 * (names or ids); without one it is public.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { YunError, invalid, notFound } from '../core/errors.ts';
import { SYSTEM_PROJECT, type Resource } from '../core/resource.ts';
import type { Project } from '../identity/types.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';

export interface FlavorSpec {
  vcpus: number;
  ramMb: number;
  diskGb: number;
  /** Max processes in the instance (pids cgroup). Default 1024. */
  pids?: number;
  /** Project names or ids allowed to use this flavor; absent = public. */
  projects?: string[];
  description?: string;
}

export const FlavorSpecSchema = Type.Object({
  vcpus: Type.Number({ exclusiveMinimum: 0, maximum: 1024 }),
  ramMb: Type.Integer({ minimum: 16, maximum: 4 * 1024 * 1024 }),
  diskGb: Type.Integer({ minimum: 0, maximum: 65536 }),
  pids: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  projects: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 1000 })),
  description: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

/** OpenStack's classic catalogue. */
export const DEFAULT_FLAVORS: Record<string, FlavorSpec> = {
  'm1.tiny': { vcpus: 1, ramMb: 512, diskGb: 1 },
  'm1.small': { vcpus: 1, ramMb: 2048, diskGb: 20 },
  'm1.medium': { vcpus: 2, ramMb: 4096, diskGb: 40 },
  'm1.large': { vcpus: 4, ramMb: 8192, diskGb: 80 },
  'm1.xlarge': { vcpus: 8, ramMb: 16384, diskGb: 160 },
};

/** Flavor names allow dots (m1.small), unlike other resource names. */
export const FLAVOR_NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

/**
 * Flavor routes. Written out rather than through `registerResource` because
 * flavor names carry dots (`m1.small`), which the generic name rule refuses.
 * Reads: any authenticated caller (private flavors only to their projects);
 * writes: cloud admins.
 */
export function flavorRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const admin = async (req: FastifyRequest) => {
    const scope = await req.scope();
    if (scope.role !== 'system-admin') throw new YunError('Forbidden', 'only cloud admins may change flavors');
    return scope;
  };
  const visible = (f: Resource<FlavorSpec>, p: Project, isAdmin: boolean) =>
    isAdmin || !f.spec.projects || f.spec.projects.includes(p.name) || f.spec.projects.includes(p.id);
  const Body = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), labels: Type.Optional(Type.Record(Type.String(), Type.String())), spec: FlavorSpecSchema }, { additionalProperties: false });
  const Upd = Type.Object({ labels: Type.Optional(Type.Record(Type.String(), Type.String())), spec: Type.Optional(FlavorSpecSchema), resourceVersion: Type.Optional(Type.Integer()) }, { additionalProperties: false });
  const Params = Type.Object({ name: Type.String({ maxLength: 128 }) });

  app.get('/flavors', { schema: { summary: 'List flavors', tags: ['compute'] } }, async (req) => {
    const scope = await req.scope();
    const all = await new Resources(ctx.store).all<FlavorSpec>('flavor', SYSTEM_PROJECT);
    return { items: all.filter((f) => visible(f, scope.project, scope.role === 'system-admin')) };
  });
  app.get('/flavors/:name', { schema: { summary: 'Show a flavor', tags: ['compute'], params: Params } }, async (req) => {
    const scope = await req.scope();
    const { name } = req.params as { name: string };
    if (scope.role === 'system-admin') return new Resources(ctx.store).require('flavor', SYSTEM_PROJECT, name);
    return resolveFlavor(ctx.store, scope.project, name);
  });
  app.post('/flavors', { schema: { summary: 'Create a flavor (cloud admins)', tags: ['compute'], body: Body } }, async (req, reply) => {
    await admin(req);
    const body = req.body as { name: string; labels?: Record<string, string>; spec: FlavorSpec };
    if (!FLAVOR_NAME_RE.test(body.name)) throw invalid('/name', `'${body.name}' is not a valid flavor name (lowercase letters, digits, '.', '-')`);
    const r = await ctx.store.tx((q) => new Resources(q).create({ kind: 'flavor', project: SYSTEM_PROJECT, name: body.name, labels: body.labels, spec: body.spec, idPrefix: 'flv', status: { state: 'active' } }));
    ctx.bus.poke();
    return reply.code(201).send(r);
  });
  app.put('/flavors/:name', { schema: { summary: 'Update a flavor (cloud admins)', tags: ['compute'], params: Params, body: Upd } }, async (req) => {
    await admin(req);
    const { name } = req.params as { name: string };
    const body = req.body as { labels?: Record<string, string>; spec?: FlavorSpec; resourceVersion?: number };
    const r = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const prev = await res.require<FlavorSpec>('flavor', SYSTEM_PROJECT, name);
      return res.updateSpec(prev, { spec: body.spec, labels: body.labels }, body.resourceVersion);
    });
    ctx.bus.poke();
    return r;
  });
  app.delete('/flavors/:name', { schema: { summary: 'Delete a flavor (cloud admins; running instances keep their size)', tags: ['compute'], params: Params } }, async (req, reply) => {
    await admin(req);
    const { name } = req.params as { name: string };
    await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      await res.delete(await res.require('flavor', SYSTEM_PROJECT, name));
    });
    ctx.bus.poke();
    return reply.code(204).send();
  });
}

/** Seeds the default catalogue (only flavors that do not exist yet: admins may have edited them). */
export async function seedFlavors(q: Sql): Promise<void> {
  const res = new Resources(q);
  for (const [name, spec] of Object.entries(DEFAULT_FLAVORS)) {
    if (await res.get('flavor', SYSTEM_PROJECT, name)) continue;
    await res.create({ kind: 'flavor', project: SYSTEM_PROJECT, name, spec, idPrefix: 'flv', status: { state: 'active' } }).catch((e) => {
      if ((e as YunError).code !== 'AlreadyExists') throw e;
    });
  }
}

/** Resolves a flavor the project may use; a private flavor of another project is simply not found. */
export async function resolveFlavor(q: Sql, project: Project, name: string): Promise<Resource<FlavorSpec>> {
  const f = await new Resources(q).get<FlavorSpec>('flavor', SYSTEM_PROJECT, name);
  if (!f || (f.spec.projects && !f.spec.projects.includes(project.name) && !f.spec.projects.includes(project.id))) throw notFound('flavor', name);
  return f;
}

/** The size an instance asks for: a flavor, or ad-hoc cpus/memory within `max`. */
export interface Size { vcpus: number; ramMb: number; diskGb: number; pids: number }

export const AD_HOC_MAX = { vcpus: 64, ramMb: 256 * 1024 };

export function adHocSize(cpus: number | undefined, memoryMb: number | undefined, diskGb = 1): Size {
  if (cpus === undefined || memoryMb === undefined) throw invalid('/spec/flavor', 'give a flavor, or both cpus and memoryMb');
  if (!(cpus > 0 && cpus <= AD_HOC_MAX.vcpus)) throw invalid('/spec/cpus', `cpus must be in (0, ${AD_HOC_MAX.vcpus}]`);
  if (!(Number.isInteger(memoryMb) && memoryMb >= 16 && memoryMb <= AD_HOC_MAX.ramMb)) throw invalid('/spec/memoryMb', `memoryMb must be an integer in [16, ${AD_HOC_MAX.ramMb}]`);
  return { vcpus: cpus, ramMb: memoryMb, diskGb, pids: 1024 };
}

export const flavorSize = (f: FlavorSpec): Size => ({ vcpus: f.vcpus, ramMb: f.ramMb, diskGb: f.diskGb, pids: f.pids ?? 1024 });
