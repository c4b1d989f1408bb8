/**
 * Source deploys: a folder packed as tar (optionally gzipped) uploaded to
 * `POST /v1/apps/:name/source`, kept by content digest under
 * `$YUN_HOME/apps/sources/` (the object service exposes no in-process
 * engine API yet), its runtime detected from the files it carries, and the
 * app created or updated to point at it — a new revision the builder turns
 * into an image.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { extractTar } from '../compute/tar.ts';
import { YunError, invalid } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import { Resources } from '../store/resources.ts';
import { type AppRoutesDeps, validateAppSpec } from './service.ts';
import { ensureRevision } from './revisions.ts';
import type { AppSourceRef, AppSpec, AppStatus } from './types.ts';

export const LOOKED_FOR = 'package.json (Node.js), requirements.txt or main.py (Python), index.html (static site)';

const exists = (p: string) => access(p).then(() => true, () => false);

/** Which runtime a source folder needs; throws naming what was looked for. */
export async function detectRuntime(dir: string): Promise<AppSourceRef['runtime']> {
  if (await exists(join(dir, 'package.json'))) return 'node';
  if (await exists(join(dir, 'requirements.txt')) || await exists(join(dir, 'main.py'))) return 'python';
  if (await exists(join(dir, 'index.html'))) return 'static';
  throw invalid('/source', `no recognisable runtime in the uploaded folder: looked for ${LOOKED_FOR}`);
}

export class SourceStore {
  constructor(readonly dir: string) {}

  path(sha256: string): string {
    return join(this.dir, `${sha256}.tar`);
  }

  /** Stores an upload (tar or tar.gz) as a plain tar named by its digest; returns digest, size, runtime. */
  async put(body: Readable, maxBytes = 512 * 2 ** 20): Promise<AppSourceRef> {
    await mkdir(this.dir, { recursive: true });
    const tmp = await mkdtemp(join(this.dir, '.up-'));
    try {
      const raw = join(tmp, 'upload');
      let seen = 0;
      body.on('data', (c: Buffer) => { seen += c.length; if (seen > maxBytes) body.destroy(new YunError('PayloadTooLarge', `source archives are limited to ${maxBytes} bytes`)); });
      await pipeline(body, createWriteStream(raw));
      const head = Buffer.alloc(2);
      const fh = await import('node:fs/promises').then((f) => f.open(raw, 'r'));
      await fh.read(head, 0, 2, 0);
      await fh.close();
      const plain = join(tmp, 'source.tar');
      if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(createReadStream(raw), createGunzip(), createWriteStream(plain));
      else await rename(raw, plain);
      const tree = join(tmp, 'tree');
      await mkdir(tree);
      await extractTar(plain, tree).catch((e) => { throw invalid('/source', `not a valid tar archive: ${(e as Error).message}`); });
      const runtime = await detectRuntime(tree);
      const sha256 = createHash('sha256').update(await readFile(plain)).digest('hex');
      const sizeBytes = (await stat(plain)).size;
      await rename(plain, this.path(sha256));
      return { sha256, runtime, sizeBytes };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Extracts a stored source into `dest` (created). */
  async extract(sha256: string, dest: string): Promise<void> {
    await mkdir(dest, { recursive: true });
    await extractTar(this.path(sha256), dest);
  }
}

const SourceQuery = Type.Object({
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  replicas: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  changeCause: Type.Optional(Type.String({ maxLength: 1024 })),
  project: Type.Optional(Type.String()),
}, { additionalProperties: false });

export function sourceRoutes(app: FastifyInstance, ctx: ApiContext, store: SourceStore, deps: AppRoutesDeps): void {
  app.register(async (sub) => {
    sub.addContentTypeParser(['application/x-tar', 'application/gzip', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
    sub.post('/apps/:name/source', {
      bodyLimit: 512 * 2 ** 20,
      schema: { summary: 'Deploy a source folder (tar or tar.gz): creates the app or rolls out a new revision', tags: ['apps'], params: Type.Object({ name: Type.String({ maxLength: 63 }) }), querystring: SourceQuery },
    }, async (req, reply) => {
      const { name } = req.params as { name: string };
      if (!NAME_RE.test(name)) throw invalid('/name', `'${name}' is not a valid name`);
      const qs = req.query as { port?: number; replicas?: number; changeCause?: string };
      const scope = await req.scope();
      const res0 = new Resources(ctx.store);
      const existing = await res0.get<AppSpec, AppStatus>('app', scope.project.id, name);
      await ctx.authz.authorize(req.principal!, scope, existing ? 'apps:UpdateApp' : 'apps:CreateApp', ctx.authz.resourceName('apps', scope.project.id, `app/${name}`), { 'yun:SourceIp': req.ip });
      if (!req.body || typeof (req.body as Readable).pipe !== 'function') throw invalid('/body', 'send the folder as a tar or tar.gz body (Content-Type application/x-tar or application/gzip)');
      const source = await store.put(req.body as Readable);
      const out = await ctx.store.tx(async (q) => {
        const res = new Resources(q);
        const c = { q, scope, principal: req.principal!, resources: res };
        const cur = await res.get<AppSpec, AppStatus>('app', scope.project.id, name);
        if (cur?.deletionTimestamp) throw new YunError('InvalidState', `app '${name}' is being deleted`);
        const base: AppSpec = cur ? { ...cur.spec } : { port: 8080, replicas: 1 };
        delete base.image;
        if (!cur) { delete base.command; delete base.args; }
        const spec = await validateAppSpec({
          ...base, source, ...(qs.port ? { port: qs.port } : {}), ...(qs.replicas !== undefined ? { replicas: qs.replicas } : {}),
          ...(qs.changeCause ? { changeCause: qs.changeCause } : {}),
        }, c, deps);
        if (cur) {
          await ensureRevision(q, { ...cur, spec });
          return { status: 200, app: await res.updateSpec(cur, { spec }) };
        }
        const created = await res.create<AppSpec, AppStatus>({ kind: 'app', project: scope.project.id, name, spec, status: { state: 'Pending' }, idPrefix: 'app' });
        await ctx.identity.consumeQuota(q, scope.project.id, { apps: 1 });
        await ensureRevision(q, created);
        return { status: 201, app: created };
      });
      ctx.bus.poke();
      deps.enqueue?.(out.app.id);
      return reply.code(out.status).send(out.app);
    });
  });
}
