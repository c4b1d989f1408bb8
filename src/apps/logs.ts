/**
 * `GET /v1/apps/:name/logs`: stdout/stderr of every replica, each line
 * prefixed with `[replica] `, optionally only lines newer than `since`
 * (ISO time or seconds ago — line times come from the file's mtime order,
 * so `since` filters whole replicas whose log did not change since then),
 * and followed (`follow=true`) across replicas that come and go until the
 * client leaves. Each replica's log is capped by the compute driver.
 */
import { open, stat } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { Resources } from '../store/resources.ts';
import type { AppSpec, AppStatus } from './types.ts';

interface Tail { name: string; path: string; pos: number; partial: string }

async function readNew(t: Tail, maxBytes = 1 << 20): Promise<string[]> {
  const size = (await stat(t.path).catch(() => undefined))?.size ?? 0;
  if (size < t.pos) t.pos = 0;
  if (size === t.pos) return [];
  const fh = await open(t.path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size - t.pos, maxBytes));
    const { bytesRead } = await fh.read(buf, 0, buf.length, t.pos);
    t.pos += bytesRead;
    const text = t.partial + buf.subarray(0, bytesRead).toString('utf8');
    const lines = text.split('\n');
    t.partial = lines.pop() ?? '';
    return lines.map((l) => `[${t.name}] ${l}\n`);
  } finally {
    await fh.close();
  }
}

export function logRoutes(app: FastifyInstance, ctx: ApiContext, logPath: (instanceId: string) => string): void {
  app.get('/apps/:name/logs', {
    schema: {
      summary: 'Logs of all replicas, prefixed; follow=true streams', tags: ['apps'], params: Type.Object({ name: Type.String({ maxLength: 128 }) }),
      querystring: Type.Object({ follow: Type.Optional(Type.Boolean()), tailBytes: Type.Optional(Type.Integer({ minimum: 0 })), since: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
    },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const qs = req.query as { follow?: boolean; tailBytes?: number; since?: string };
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, 'apps:GetLogsOfApp', ctx.authz.resourceName('apps', scope.project.id, `app/${name}`), { 'yun:SourceIp': req.ip });
    const res = new Resources(ctx.store);
    const a = await res.require<AppSpec, AppStatus>('app', scope.project.id, name);
    const sinceMs = qs.since === undefined ? undefined : /^\d+$/.test(qs.since) ? Date.now() - Number(qs.since) * 1000 : Date.parse(qs.since);
    const tails = new Map<string, Tail>();
    const discover = async () => {
      for (const i of (await res.ownedBy(a.id)).filter((r) => r.kind === 'instance')) {
        if (tails.has(i.id)) continue;
        const path = logPath(i.id);
        const st = await stat(path).catch(() => undefined);
        if (sinceMs !== undefined && st && st.mtimeMs < sinceMs) { tails.set(i.id, { name: i.name, path, pos: st.size, partial: '' }); continue; }
        const start = qs.tailBytes !== undefined && st ? Math.max(0, st.size - qs.tailBytes) : 0;
        tails.set(i.id, { name: i.name, path, pos: start, partial: '' });
      }
    };
    await discover();
    if (!qs.follow) {
      const out: string[] = [];
      for (const t of tails.values()) out.push(...await readNew(t));
      return reply.type('text/plain; charset=utf-8').send(out.join(''));
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    let closed = false;
    req.raw.on('close', () => { closed = true; });
    let n = 0;
    while (!closed) {
      let wrote = false;
      for (const t of tails.values()) for (const l of await readNew(t)) { raw.write(l); wrote = true; }
      if (!wrote) await new Promise((r) => setTimeout(r, 250));
      if (++n % 8 === 0) {
        await discover();
        if (!(await res.getById(a.id))) break;
      }
    }
    raw.end();
  });
}
