/**
 * `POST /v1/apply` and `POST /v1/apply/delete`: a Kubernetes manifest
 * applied in one transaction (all documents or none). Re-applying the same
 * file changes nothing (`unchanged`); a changed Deployment template rolls
 * out a new revision.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../../api/context.ts';
import { type ResourceCallContext, registerResource } from '../../api/resources.ts';
import type { Resource } from '../../core/resource.ts';
import { YunError } from '../../core/errors.ts';
import { Resources } from '../../store/resources.ts';
import { validateLabels } from '../../store/selector.ts';
import { ensureRevision } from '../revisions.ts';
import { type AppRoutesDeps, validateAppSpec } from '../service.ts';
import type { AppSpec, AppStatus } from '../types.ts';
import { type Mapped, type Warning, parseManifest } from './manifest.ts';

const Body = Type.Object({
  manifest: Type.String({ maxLength: 4 * 1024 * 1024 }),
  file: Type.Optional(Type.String({ maxLength: 1024 })),
  dryRun: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export interface ApplyResult { document: number; kind: string; name: string; yunKind: string; action: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found' }

const VERB: Record<string, string> = { app: 'App', 'app-service': 'AppService', 'app-autoscaler': 'AppAutoscaler', 'app-config': 'AppConfig', 'app-secret': 'AppSecret' };
const PREFIX: Record<string, string> = { app: 'app', 'app-service': 'svc', 'app-autoscaler': 'hpa', 'app-config': 'cm', 'app-secret': 'sec' };
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function applyRoutes(app: FastifyInstance, ctx: ApiContext, deps: AppRoutesDeps): void {
  registerResource(app, ctx, {
    kind: 'app-service', plural: 'app-services', service: 'apps', idPrefix: 'svc', deletion: 'immediate',
    spec: Type.Object({
      type: Type.Union([Type.Literal('ClusterIP'), Type.Literal('NodePort'), Type.Literal('LoadBalancer')]),
      selector: Type.Record(Type.String(), Type.String()),
      ports: Type.Array(Type.Object({ port: Type.Integer(), targetPort: Type.Optional(Type.Integer()), name: Type.Optional(Type.String()) })),
    }, { additionalProperties: false }),
  });

  const prepare = async (req: FastifyRequest, del: boolean) => {
    const b = req.body as { manifest: string; file?: string; dryRun?: boolean };
    const scope = await req.scope();
    const { objects, warnings } = parseManifest(b.manifest, b.file ?? 'manifest', scope.project.name);
    for (const o of objects) {
      if (o.yunKind === 'project') continue;
      const action = `apps:${del ? 'Delete' : 'Create'}${VERB[o.yunKind]}`;
      await ctx.authz.authorize(req.principal!, scope, action, ctx.authz.resourceName('apps', scope.project.id, `${o.yunKind}/${o.name}`), { 'yun:SourceIp': req.ip });
    }
    return { b, scope, objects, warnings };
  };

  app.post('/apply', { schema: { summary: 'Apply a Kubernetes manifest (Deployment, Service, HPA, ConfigMap, Secret, Namespace)', tags: ['apps'], body: Body } }, async (req) => {
    const { b, scope, objects, warnings } = await prepare(req, false);
    const touched: string[] = [];
    const order = ['project', 'app-config', 'app-secret', 'app', 'app-service', 'app-autoscaler'];
    const sorted = [...objects].sort((x, y) => order.indexOf(x.yunKind) - order.indexOf(y.yunKind));
    const results = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const c: ResourceCallContext = { q, scope, principal: req.principal!, resources: res };
      const out: ApplyResult[] = [];
      for (const o of sorted) {
        const r = (action: ApplyResult['action']) => out.push({ document: o.document, kind: o.source, name: o.name, yunKind: o.yunKind, action });
        if (o.yunKind === 'project') {
          if (o.name !== scope.project.name) throw new YunError('ValidationFailed', `${b.file ?? 'manifest'}: document ${o.document}: Namespace '${o.name}' is not the project in use ('${scope.project.name}'); create it with yun project create and apply with -p`, { field: '/metadata/name' });
          r('unchanged');
          continue;
        }
        const labels = o.yunKind === 'app' ? safeLabels(o.labels, o.document, warnings) : {};
        const spec = o.yunKind === 'app' ? await validateAppSpec(o.spec, c, deps) : o.spec;
        const cur = await res.get(o.yunKind, scope.project.id, o.name) as Resource<unknown> | undefined;
        if (cur?.deletionTimestamp) throw new YunError('InvalidState', `${o.yunKind} '${o.name}' is being deleted`);
        if (cur && same(cur.spec, spec) && (o.yunKind !== 'app' || same(cur.labels, labels))) { r('unchanged'); continue; }
        if (cur) {
          if (o.yunKind === 'app') await ensureRevision(q, { ...(cur as Resource<AppSpec, AppStatus>), spec: spec as AppSpec });
          await res.updateSpec(cur, { spec, labels: o.yunKind === 'app' ? labels : cur.labels });
          touched.push(cur.id);
          r('configured');
          continue;
        }
        const made = await res.create({ kind: o.yunKind, project: scope.project.id, name: o.name, labels, spec, status: o.yunKind === 'app' ? { state: 'Pending' } : {}, idPrefix: PREFIX[o.yunKind]! });
        if (o.yunKind === 'app') {
          await ctx.identity.consumeQuota(q, scope.project.id, { apps: 1 });
          await ensureRevision(q, made as Resource<AppSpec, AppStatus>);
        }
        touched.push(made.id);
        r('created');
      }
      if (b.dryRun) throw new DryRun(out);
      return out;
    }).catch((e) => { if (e instanceof DryRun) return e.results; throw e; });
    ctx.bus.poke();
    for (const id of touched) deps.enqueue?.(id);
    return { results: results.sort((x, y) => x.document - y.document), warnings, ...(b.dryRun ? { dryRun: true } : {}) };
  });

  app.post('/apply/delete', { schema: { summary: 'Delete what a Kubernetes manifest names', tags: ['apps'], body: Body } }, async (req) => {
    const { scope, objects } = await prepare(req, true);
    const results = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const out: ApplyResult[] = [];
      for (const o of objects as Mapped[]) {
        if (o.yunKind === 'project') continue;
        const cur = await res.get(o.yunKind, scope.project.id, o.name);
        const action: ApplyResult['action'] = cur ? 'deleted' : 'not found';
        if (cur && o.yunKind === 'app') await res.markDeleting(cur);
        else if (cur) await res.delete(cur);
        out.push({ document: o.document, kind: o.source, name: o.name, yunKind: o.yunKind, action });
      }
      return out;
    });
    ctx.bus.poke();
    return { results, warnings: [] };
  });
}

class DryRun extends Error {
  constructor(readonly results: ApplyResult[]) { super('dry run'); }
}

function safeLabels(l: Record<string, string>, doc: number, warnings: Warning[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(l)) {
    try { Object.assign(out, validateLabels({ [k]: v })); } catch { warnings.push({ document: doc, path: `/spec/template/metadata/labels/${k}`, message: 'label not valid in yun; dropped' }); }
  }
  return out;
}
