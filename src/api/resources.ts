import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { YunError, invalid } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import type { Resource, ResourceStatus } from '../core/resource.ts';
import type { Principal, Scope } from '../identity/types.ts';
import { Resources } from '../store/resources.ts';
import { parseSelector, validateLabels } from '../store/selector.ts';
import type { Sql } from '../store/types.ts';
import type { ApiContext } from './context.ts';
import { withIdempotency } from './idempotency.ts';
import { ListCache } from './list-cache.ts';

export interface ResourceCallContext {
  q: Sql;
  scope: Scope;
  principal: Principal;
  resources: Resources;
}

/**
 * Declares one resource kind's REST surface. Services give the schema of
 * `spec` and hooks; the factory gives list/get/create/update/delete with
 * pagination, label selectors, idempotency, optimistic concurrency, events
 * and authorization, the same way for every kind.
 */
export interface ResourceDef<S, St extends ResourceStatus = ResourceStatus> {
  kind: string;
  plural: string;
  /** Action namespace, e.g. `compute` → `compute:CreateInstance`. */
  service: string;
  idPrefix: string;
  spec: TSchema;
  /** Cluster-wide kinds (flavors, hosts) live in the system project; writes need a cloud admin. */
  global?: boolean;
  /** Validate and normalise a spec beyond the schema; may consume quota in `c.q`. */
  prepare?(spec: S, c: ResourceCallContext, prev?: Resource<S, St>): Promise<S>;
  /** Initial status for a new resource. */
  initialStatus?(spec: S): St;
  /** Called inside the create transaction after insert (quota, children…). */
  afterCreate?(r: Resource<S, St>, c: ResourceCallContext): Promise<void>;
  /** Allowed spec changes; throw to refuse (state guards refuse before any side effect). */
  beforeUpdate?(prev: Resource<S, St>, next: S, c: ResourceCallContext): Promise<void>;
  /**
   * `immediate`: the row goes at once (after `beforeDelete`). `finalize`:
   * deletionTimestamp is set and a controller removes the row when done.
   */
  deletion: 'immediate' | 'finalize';
  beforeDelete?(r: Resource<S, St>, c: ResourceCallContext): Promise<void>;
  /** Visible to lists by cloud admins across projects with `?allProjects=true`. */
}

const cap = (s: string) => s.replace(/(^|[-_])(\w)/g, (_m, _p, c: string) => c.toUpperCase());

export const ResourceSchema = (spec: TSchema) => Type.Object({
  id: Type.String(), kind: Type.String(), project: Type.String(), name: Type.String(),
  labels: Type.Record(Type.String(), Type.String()), spec, status: Type.Record(Type.String(), Type.Unknown()),
  generation: Type.Integer(), resourceVersion: Type.Integer(), createdAt: Type.String(), updatedAt: Type.String(),
  deletionTimestamp: Type.Optional(Type.String()), ownerId: Type.Optional(Type.String()),
});

const ListQuery = Type.Object({
  labelSelector: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  cursor: Type.Optional(Type.String()), allProjects: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()),
}, { additionalProperties: false });
const NameParams = Type.Object({ name: Type.String({ maxLength: 128 }) });
const ProjectQuery = Type.Object({ project: Type.Optional(Type.String()) }, { additionalProperties: false });

export function etag(r: Resource<unknown, ResourceStatus>): string {
  return `"${r.resourceVersion}"`;
}

function expectedVersion(req: FastifyRequest, bodyVersion?: number): number | undefined {
  const m = /^"?(\d+)"?$/.exec(String(req.headers['if-match'] ?? ''));
  return m ? Number(m[1]) : bodyVersion;
}

/** Resolves the scope a kind lives in: the request's project, or the system project for global kinds. */
export async function kindScope(req: FastifyRequest, global: boolean | undefined): Promise<{ scope: Scope; project: string }> {
  const scope = await req.scope();
  return { scope, project: global ? '_system' : scope.project.id };
}

export function registerResource<S, St extends ResourceStatus = ResourceStatus>(app: FastifyInstance, ctx: ApiContext, def: ResourceDef<S, St>): void {
  const K = cap(def.kind);
  const base = `/${def.plural}`;
  const arn = (scope: Scope, name: string) => ctx.authz.resourceName(def.service, def.global ? '*' : scope.project.id, `${def.kind}/${name}`);
  const authorize = async (req: FastifyRequest, verb: string, name: string) => {
    const { scope, project } = await kindScope(req, def.global);
    const action = `${def.service}:${verb}${K}`;
    if (def.global && !/^(Get|List)/.test(verb) && scope.role !== 'system-admin') {
      throw new YunError('Forbidden', `only cloud admins may ${action}`);
    }
    await ctx.authz.authorize(req.principal!, scope, action, arn(scope, name), { 'yun:SourceIp': req.ip });
    return { scope, project };
  };
  const call = (q: Sql, scope: Scope, req: FastifyRequest): ResourceCallContext => ({ q, scope, principal: req.principal!, resources: new Resources(q) });
  const Res = ResourceSchema(def.spec);

  const lists = ListCache.forStore(ctx.store);
  app.get(base, { schema: { summary: `List ${def.plural}`, tags: [def.service], querystring: ListQuery } }, async (req, reply) => {
    const qs = req.query as { labelSelector?: string; limit?: number; cursor?: string; allProjects?: boolean };
    const { scope, project } = await authorize(req, 'List', '*');
    const all = qs.allProjects && scope.role === 'system-admin' && !def.global;
    const selector = parseSelector(qs.labelSelector);
    const build = async () => {
      const page = await new Resources(ctx.store).list<S, St>(def.kind, all ? undefined : project, { selector, limit: qs.limit, cursor: qs.cursor });
      return { items: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    };
    if (!lists) return build();
    const key = JSON.stringify([def.kind, all ? null : project, qs.labelSelector ?? '', qs.limit ?? null, qs.cursor ?? '']);
    return reply.type('application/json; charset=utf-8').send(await lists.json(key, build));
  });

  app.get(`${base}/:name`, { schema: { summary: `Show a ${def.kind}`, tags: [def.service], params: NameParams, querystring: ProjectQuery, response: { 200: Res } } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const { project } = await authorize(req, 'Get', name);
    const r = await new Resources(ctx.store).require<S, St>(def.kind, project, name);
    void reply.header('etag', etag(r));
    return r;
  });

  const CreateBody = Type.Object({
    name: Type.String({ minLength: 1, maxLength: 63 }), labels: Type.Optional(Type.Record(Type.String(), Type.String())), spec: def.spec,
  }, { additionalProperties: false });
  app.post(base, { schema: { summary: `Create a ${def.kind}`, tags: [def.service], body: CreateBody, querystring: ProjectQuery, response: { 201: Res } } }, async (req, reply) => {
    const body = req.body as { name: string; labels?: Record<string, string>; spec: S };
    if (!NAME_RE.test(body.name)) throw invalid('/name', `'${body.name}' is not a valid name (lowercase letters, digits, '-', 1–63 chars, starting and ending alphanumeric)`);
    const labels = validateLabels(body.labels);
    const { scope, project } = await authorize(req, 'Create', body.name);
    const out = await ctx.store.tx((q) => withIdempotency(q, req.principal!.userId, req.headers['idempotency-key'] as string | undefined, { p: project, body }, async () => {
      const c = call(q, scope, req);
      const spec = def.prepare ? await def.prepare(body.spec, c) : body.spec;
      const r = await c.resources.create<S, St>({
        kind: def.kind, project, name: body.name, labels, spec, status: def.initialStatus?.(spec), idPrefix: def.idPrefix,
      });
      await def.afterCreate?.(r, c);
      return { status: 201 as number, body: r };
    }));
    ctx.bus.poke();
    void reply.header('etag', etag(out.body));
    if (out.replayed) void reply.header('idempotent-replayed', 'true');
    return reply.code(out.status as 201).send(out.body);
  });

  const UpdateBody = Type.Object({
    labels: Type.Optional(Type.Record(Type.String(), Type.String())), spec: Type.Optional(def.spec),
    resourceVersion: Type.Optional(Type.Integer()),
  }, { additionalProperties: false });
  app.put(`${base}/:name`, { schema: { summary: `Update a ${def.kind} (spec and labels)`, tags: [def.service], params: NameParams, querystring: ProjectQuery, body: UpdateBody, response: { 200: Res } } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const body = req.body as { labels?: Record<string, string>; spec?: S; resourceVersion?: number };
    const labels = body.labels ? validateLabels(body.labels) : undefined;
    const { scope, project } = await authorize(req, 'Update', name);
    const r = await ctx.store.tx(async (q) => {
      const c = call(q, scope, req);
      const prev = await c.resources.require<S, St>(def.kind, project, name);
      if (prev.deletionTimestamp) throw new YunError('InvalidState', `${def.kind} '${name}' is being deleted`);
      const ev = expectedVersion(req, body.resourceVersion);
      if (ev !== undefined && ev !== prev.resourceVersion) throw new YunError('StaleGeneration', `${def.kind} '${name}' is at version ${prev.resourceVersion}, not ${ev}`, { field: '/resourceVersion' });
      let spec = body.spec;
      if (spec !== undefined) {
        spec = def.prepare ? await def.prepare(spec, c, prev) : spec;
        await def.beforeUpdate?.(prev, spec, c);
      }
      return c.resources.updateSpec(prev, { spec, labels }, prev.resourceVersion);
    });
    ctx.bus.poke();
    void reply.header('etag', etag(r));
    return r;
  });

  app.delete(`${base}/:name`, { schema: { summary: `Delete a ${def.kind}`, tags: [def.service], params: NameParams, querystring: ProjectQuery } }, async (req, reply: FastifyReply) => {
    const { name } = req.params as { name: string };
    const { scope, project } = await authorize(req, 'Delete', name);
    const r = await ctx.store.tx(async (q) => {
      const c = call(q, scope, req);
      const cur = await c.resources.require<S, St>(def.kind, project, name);
      await def.beforeDelete?.(cur, c);
      if (def.deletion === 'immediate') {
        await c.resources.delete(cur);
        return undefined;
      }
      return c.resources.markDeleting(cur);
    });
    ctx.bus.poke();
    return r ? reply.code(202).send(r) : reply.code(204).send();
  });
}
