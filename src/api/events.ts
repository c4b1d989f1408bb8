import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiContext } from './context.ts';

/**
 * `GET /v1/events` — server-sent events of resource changes, filtered by
 * kind and project, resumable with `Last-Event-ID` or `?since=`. Callers
 * see only their project unless they are cloud admins asking for all.
 */
export async function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  // Open streams end when the server closes, so shutdown never waits on a watcher.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => { for (const end of open) end(); });
  app.get('/events', {
    schema: {
      summary: 'Watch resource changes (text/event-stream)',
      querystring: Type.Object({
        kind: Type.Optional(Type.String()), since: Type.Optional(Type.Integer({ minimum: 0 })),
        allProjects: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()),
      }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const q = req.query as { kind?: string; since?: number; allProjects?: boolean };
    const scope = await req.scope();
    const all = q.allProjects && scope.role === 'system-admin';
    const lastId = Number(req.headers['last-event-id'] ?? Number.NaN);
    const since = Number.isFinite(lastId) ? lastId : q.since ?? await ctx.bus.lastSeq();
    const filter = { kinds: q.kind ? q.kind.split(',') : undefined, projects: all ? undefined : [scope.project.id] };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`: watching from ${since}\n\n`);
    const unsubscribe = ctx.bus.subscribe(filter, since, (e) => {
      res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ type: e.type, kind: e.kind, object: e.object })}\n\n`);
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const close = () => { clearInterval(beat); unsubscribe(); open.delete(end); };
    const end = () => { close(); res.end(); };
    open.add(end);
    req.raw.on('close', close);
    res.on('error', close);
  });
}
