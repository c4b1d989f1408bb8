/**
 * The apps REST surface: `app` CRUD (through registerResource), its
 * revisions and history, rollback, scale, status with router metrics,
 * logs of all replicas; `app-config` / `app-secret` (ConfigMap / Secret)
 * and `app-autoscaler` (HPA policies). The API records intent; the
 * controller does the work.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { type ResourceCallContext, registerResource } from '../api/resources.ts';
import type { Instance } from '../compute/instances.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { Scope } from '../identity/types.ts';
import { Resources } from '../store/resources.ts';
import type { RouterMetrics } from './metrics.ts';
import { CONFIG_KIND, SECRET_KIND } from './replicas.ts';
import { type App, type Revision, ensureRevision, revisionsOf, templateHash, templateOf } from './revisions.ts';
import { AppSpecSchema, type AutoscalerSpec, AutoscalerSpecSchema, DataSpecSchema } from './schema.ts';
import type { AppSpec, AppStatus } from './types.ts';

export interface AppRoutesDeps {
  metrics: RouterMetrics;
  /** Whether an image name resolves in the project (compute's image store). */
  imageExists?: (c: ResourceCallContext, name: string) => Promise<boolean>;
  /** Log file of a replica (compute driver), for `logs`. */
  logPath?: (instanceId: string) => string;
  enqueue?: (appId: string) => void;
}

/** Validation beyond the schema, shared by the REST create/update path and `apply`. */
export async function validateAppSpec(spec: AppSpec, c: ResourceCallContext, deps: AppRoutesDeps): Promise<AppSpec> {
  if (Boolean(spec.image) === Boolean(spec.source)) throw invalid('/spec/image', 'give exactly one of image (a name in the image store) or source (upload with POST /v1/apps/:name/source)');
  if (spec.flavor && (spec.cpus !== undefined || spec.memoryMb !== undefined)) throw invalid('/spec/flavor', 'give either a flavor or cpus/memoryMb, not both');
  if (spec.image && !spec.command?.length && !spec.args?.length) throw invalid('/spec/command', `image apps need a command (images in yun's store carry no entrypoint)`);
  if (spec.image && deps.imageExists && !(await deps.imageExists(c, spec.image))) throw invalid('/spec/image', `image '${spec.image}' not found in the image store (build or import it first: yun image build busybox|node, yun image import FILE)`);
  if (spec.healthCheck?.type === 'tcp' && spec.healthCheck.path) throw invalid('/spec/healthCheck/path', 'a tcp health check has no path');
  const hc = spec.healthCheck;
  if (hc?.timeoutSeconds && hc.intervalSeconds && hc.timeoutSeconds > hc.intervalSeconds) throw invalid('/spec/healthCheck/timeoutSeconds', 'timeout must not exceed the interval');
  for (const [i, d] of (spec.domains ?? []).entries()) if (d.endsWith('.apps.localhost')) throw invalid(`/spec/domains/${i}`, `'${d}': names under apps.localhost are assigned by yun`);
  const res = new Resources(c.q);
  for (const [i, s] of (spec.secretRefs ?? []).entries()) {
    if (!(await res.get(s.configMap ? CONFIG_KIND : SECRET_KIND, c.scope.project.id, s.secret))) throw invalid(`/spec/secretRefs/${i}/secret`, `${s.configMap ? 'config map' : 'secret'} '${s.secret}' not found`);
  }
  for (const [i, f] of (spec.envFrom ?? []).entries()) {
    for (const [kind, name] of [[CONFIG_KIND, f.configMap], [SECRET_KIND, f.secret]] as const) {
      if (name && !(await res.get(kind, c.scope.project.id, name))) throw invalid(`/spec/envFrom/${i}`, `'${name}' not found`);
    }
  }
  return spec;
}

/** Custom domains are unique across the cloud: one router serves them all. */
async function checkDomains(c: ResourceCallContext, name: string, spec: AppSpec): Promise<void> {
  if (!spec.domains?.length) return;
  for (const a of await c.resources.all<AppSpec>('app')) {
    if (a.project === c.scope.project.id && a.name === name) continue;
    const clash = a.spec.domains?.find((d) => spec.domains!.includes(d));
    if (clash) throw new YunError('Conflict', `domain '${clash}' is already served by another app`, { field: '/spec/domains' });
  }
}

const Params = Type.Object({ name: Type.String({ maxLength: 128 }) });

export function appRoutes(app: FastifyInstance, ctx: ApiContext, deps: AppRoutesDeps): void {
  registerResource<AppSpec, AppStatus>(app, ctx, {
    kind: 'app', plural: 'apps', service: 'apps', idPrefix: 'app', spec: AppSpecSchema, deletion: 'finalize',
    initialStatus: () => ({ state: 'Pending' }),
    prepare: (spec, c) => validateAppSpec(spec, c, deps),
    async afterCreate(r, c) {
      await checkDomains(c, r.name, r.spec);
      await ctx.identity.consumeQuota(c.q, r.project, { apps: 1 });
      await ensureRevision(c.q, r);
    },
    async beforeUpdate(prev, next, c) {
      await checkDomains(c, prev.name, next);
      await ensureRevision(c.q, { ...prev, spec: next });
    },
  });
  registerResource<{ data: Record<string, string> }>(app, ctx, { kind: CONFIG_KIND, plural: 'app-configs', service: 'apps', idPrefix: 'cm', spec: DataSpecSchema, deletion: 'immediate' });
  registerResource<{ data: Record<string, string> }>(app, ctx, { kind: SECRET_KIND, plural: 'app-secrets', service: 'apps', idPrefix: 'sec', spec: DataSpecSchema, deletion: 'immediate' });
  registerResource<AutoscalerSpec>(app, ctx, {
    kind: 'app-autoscaler', plural: 'app-autoscalers', service: 'apps', idPrefix: 'hpa', spec: AutoscalerSpecSchema, deletion: 'immediate',
    async prepare(spec) {
      if (spec.minReplicas > spec.maxReplicas) throw invalid('/spec/minReplicas', 'minReplicas must not exceed maxReplicas');
      return spec;
    },
  });

  const authorize = async (req: FastifyRequest, verb: string): Promise<{ scope: Scope; app: App }> => {
    const { name } = req.params as { name: string };
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `apps:${verb}`, ctx.authz.resourceName('apps', scope.project.id, `app/${name}`), { 'yun:SourceIp': req.ip });
    return { scope, app: await new Resources(ctx.store).require<AppSpec, AppStatus>('app', scope.project.id, name) };
  };
  const after = (a: App) => { ctx.bus.poke(); deps.enqueue?.(a.id); };

  app.get('/apps/:name/revisions', { schema: { summary: 'Revision history of an app', tags: ['apps'], params: Params } }, async (req) => {
    const { app: a } = await authorize(req, 'GetApp');
    const h = templateHash(templateOf(a.spec));
    const items = (await revisionsOf(ctx.store, a.id)).map((r) => ({ ...r, current: r.spec.templateHash === h }));
    return { items };
  });

  app.post('/apps/:name/rollback', {
    schema: { summary: 'Roll back to a kept revision (default: the one before the current)', tags: ['apps'], params: Params, body: Type.Optional(Type.Object({ revision: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false })) },
  }, async (req) => {
    const { app: a } = await authorize(req, 'RollbackApp');
    const want = (req.body as { revision?: number } | undefined)?.revision;
    const out = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const cur = await res.require<AppSpec, AppStatus>('app', a.project, a.id);
      if (cur.deletionTimestamp) throw new YunError('InvalidState', `app '${a.name}' is being deleted`);
      const revs = await revisionsOf(q, cur.id);
      const h = templateHash(templateOf(cur.spec));
      const now = revs.find((r) => r.spec.templateHash === h);
      let target: Revision | undefined;
      if (want !== undefined) {
        target = revs.find((r) => r.spec.revision === want);
        if (!target) throw new YunError('NotFound', `revision ${want} of '${a.name}' is not kept (kept: ${revs.map((r) => r.spec.revision).join(', ')})`, { field: '/revision' });
      } else {
        target = [...revs].reverse().find((r) => r.spec.revision < (now?.spec.revision ?? Infinity) && r.spec.templateHash !== h);
        if (!target) throw new YunError('InvalidState', `app '${a.name}' has no earlier revision to roll back to`);
      }
      const keep: (keyof AppSpec)[] = ['replicas', 'domains', 'pathPrefix', 'strategy', 'revisionHistoryLimit'];
      const spec = { ...Object.fromEntries(keep.filter((k) => cur.spec[k] !== undefined).map((k) => [k, cur.spec[k]])), ...target.spec.template } as AppSpec;
      return res.updateSpec(cur, { spec });
    });
    after(out);
    return out;
  });

  app.post('/apps/:name/scale', {
    schema: { summary: 'Set the number of replicas', tags: ['apps'], params: Params, body: Type.Object({ replicas: Type.Integer({ minimum: 0, maximum: 1000 }) }, { additionalProperties: false }) },
  }, async (req) => {
    const { app: a } = await authorize(req, 'ScaleApp');
    const { replicas } = req.body as { replicas: number };
    const out = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const cur = await res.require<AppSpec, AppStatus>('app', a.project, a.id);
      if (cur.deletionTimestamp) throw new YunError('InvalidState', `app '${a.name}' is being deleted`);
      return res.updateSpec(cur, { spec: { ...cur.spec, replicas } });
    });
    after(out);
    return out;
  });

  app.get('/apps/:name/status', { schema: { summary: 'Replicas, health, revision and router traffic of an app', tags: ['apps'], params: Params } }, async (req) => {
    const { app: a } = await authorize(req, 'GetApp');
    return { name: a.name, spec: { replicas: a.spec.replicas, image: a.spec.image, port: a.spec.port }, status: a.status, traffic: deps.metrics.traffic(a.project, a.name) };
  });

  app.get('/apps/:name/replicas', { schema: { summary: 'The instances running an app', tags: ['apps'], params: Params } }, async (req) => {
    const { app: a } = await authorize(req, 'GetApp');
    return { items: (await new Resources(ctx.store).ownedBy(a.id)).filter((r) => r.kind === 'instance') as unknown as Instance[] };
  });
}
