import AjvModule from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { YunError } from '../core/errors.ts';
import type { Scope } from '../identity/types.ts';
import type { ApiContext } from './context.ts';
import { registerEventRoutes } from './events.ts';
import { OpenApiCollector } from './openapi.ts';
import { sendProblem } from './problem.ts';

/** A service plugs its routes in through one of these. */
export type RouteModule = (app: FastifyInstance, ctx: ApiContext) => void | Promise<void>;

export interface ApiOptions {
  ctx: ApiContext;
  modules: RouteModule[];
  /** Console or other static handlers that own `/` (optional). */
  extra?: (app: FastifyInstance) => void | Promise<void>;
}

/**
 * Body validation is strict (no coercion, unknown fields refused); query
 * strings and path params are coerced, since they arrive as text.
 */
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;

function validatorCompilers() {
  const strict = new (Ajv as unknown as new (o: object) => { compile(s: object): unknown })({ allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false });
  const loose = new (Ajv as unknown as new (o: object) => { compile(s: object): unknown })({ allErrors: false, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : loose).compile(schema);
}

export async function buildApi(o: ApiOptions): Promise<FastifyInstance> {
  const { ctx } = o;
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: ctx.config.bodyLimitBytes,
    genReqId: () => `req-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: false,
  });
  app.setValidatorCompiler(validatorCompilers() as never);
  app.setErrorHandler((err, req, reply) => sendProblem(req, reply, err));
  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, new YunError('NotFound', `no route ${req.method} ${req.url.split('?')[0]}`)));
  const openapi = new OpenApiCollector();
  app.addHook('onRoute', (r) => openapi.add(r));
  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    done(null, payload);
  });

  app.decorateRequest('principal', undefined);
  app.decorateRequest('scope', function (this: { _scope?: Promise<Scope> }) { throw new Error('scope() before authentication'); } as never);
  app.addHook('onRequest', async (req) => {
    const config = req.routeOptions.config as { auth?: boolean } | undefined;
    if (config?.auth === false) return;
    const h = req.headers.authorization;
    if (!h || !h.startsWith('Bearer ')) throw new YunError('Unauthenticated', 'missing bearer token (Authorization: Bearer …)');
    const principal = await ctx.identity.authenticate(h.slice(7).trim());
    req.principal = principal;
    let cached: Promise<Scope> | undefined;
    const ref = (req.headers['x-yun-project'] as string | undefined) ?? (req.query as Record<string, string> | undefined)?.project;
    req.scope = () => (cached ??= ctx.authz.scope(principal, ref || undefined));
  });

  app.get('/healthz', { config: { auth: false }, schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { config: { auth: false }, schema: { hide: true } }, async (_req, reply) => {
    try {
      await ctx.store.get('SELECT 1 AS one');
      return { ready: true };
    } catch {
      return reply.code(503).send({ ready: false });
    }
  });

  await app.register(async (v1) => {
    await registerEventRoutes(v1, ctx);
    for (const m of o.modules) await m(v1, ctx);
    v1.get('/openapi.json', { config: { auth: false } }, async () => openapi.document(ctx.config));
  }, { prefix: '/v1' });
  if (o.extra) await o.extra(app);
  return app as unknown as FastifyInstance;
}
