/**
 * Images: a read-only root filesystem per image under `$YUN_HOME/images/<id>/`,
 * used as the lower layer of every instance launched from it.
 * `source.build` images are built in the background from host binaries
 * (busybox-static, node); `source.upload` images wait for their bytes at
 * `PUT /v1/images/:name/data` (raw tar or tar.gz body, streamed to disk).
 * Lookup for launching: the project's own image, else a public one.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, isYunError, notFound } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Resource } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { Sql, StateStore } from '../store/types.ts';
import { importImage } from './image-import.ts';
import { buildBusyboxImage } from './images/busybox.ts';
import { buildNodeImage } from './images/node.ts';
import type { ImageInfo } from './images/types.ts';
import type { ImageSpec, ImageStatus } from './types.ts';
import { buildTinyVm, importVmDisk } from './vm/images.ts';

export type Image = Resource<ImageSpec, ImageStatus>;

export const ImageSpecSchema = Type.Object({
  source: Type.Union([
    Type.Object({ build: Type.Union([Type.Literal('busybox'), Type.Literal('node'), Type.Literal('tiny-vm')]) }, { additionalProperties: false }),
    Type.Object({ upload: Type.Union([Type.Literal('rootfs'), Type.Literal('oci'), Type.Literal('disk')]) }, { additionalProperties: false }),
  ]),
  public: Type.Optional(Type.Boolean()),
  minFlavor: Type.Optional(Type.String({ maxLength: 63 })),
  minRamMb: Type.Optional(Type.Integer({ minimum: 0 })),
  description: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

/** Where a cloud home keeps its images (`<dir>/<image id>/rootfs`). */
export const imagesDirOf = (home: string): string => join(home, 'images');

/** The image a project may use by name: its own, else a public one. */
export async function resolveImage(q: Sql, project: string, name: string): Promise<Image> {
  const res = new Resources(q);
  const own = await res.get<ImageSpec, ImageStatus>('image', project, name);
  if (own) return own;
  const pub = (await q.all<{ id: string }>("SELECT id FROM resources WHERE kind = 'image' AND name = ? ORDER BY created_at", [name]));
  for (const { id } of pub) {
    const r = await res.getById<ImageSpec, ImageStatus>(id);
    if (r?.spec.public) return r;
  }
  throw notFound('image', name);
}

export class ImageService {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly store: StateStore, private readonly imagesDir: string, private readonly log: Logger, private readonly poke: () => void) {}

  dir(id: string): string {
    return join(this.imagesDir, id);
  }

  rootfs(id: string): string {
    return join(this.dir(id), 'rootfs');
  }

  /** The image a project may launch by name: its own, else a public one. */
  resolve(q: Sql, project: string, name: string): Promise<Image> {
    return resolveImage(q, project, name);
  }

  /** Builds pending `source.build` images (on create and after a restart). */
  async resume(): Promise<void> {
    for (const img of await new Resources(this.store).all<ImageSpec, ImageStatus>('image')) {
      if ('build' in img.spec.source && img.status.state !== 'available' && img.status.state !== 'error') this.build(img);
    }
  }

  build(img: Image): void {
    if (this.running.has(img.id) || !('build' in img.spec.source)) return;
    const kind = img.spec.source.build;
    const p = (async () => {
      await this.setStatus(img.id, { state: 'building' });
      try {
        const info = kind === 'busybox' ? await buildBusyboxImage(this.dir(img.id)) : kind === 'tiny-vm' ? await buildTinyVm(this.dir(img.id)) : await buildNodeImage(this.dir(img.id));
        await this.setStatus(img.id, available(info));
      } catch (e) {
        this.log.warn({ err: e, image: img.name }, 'image build failed');
        await this.setStatus(img.id, { state: 'error', reason: (e as Error).message });
      }
    })().finally(() => this.running.delete(img.id));
    this.running.set(img.id, p);
  }

  /** Waits for builds in flight (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.running.values());
  }

  /** Streams an upload to disk, then imports it. */
  async upload(img: Image, body: Readable): Promise<Image> {
    if (!('upload' in img.spec.source)) throw new YunError('InvalidState', `image '${img.name}' is built, not uploaded`);
    if (img.status.state === 'available') throw new YunError('InvalidState', `image '${img.name}' already has its bytes; images are immutable`);
    const dir = this.dir(img.id);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'upload.tar');
    await this.setStatus(img.id, { state: 'uploading' });
    try {
      await pipeline(body, createWriteStream(file));
      const kind = img.spec.source.upload;
      const info = kind === 'disk' ? await importVmDisk(dir, file) : await importImage(dir, file, kind);
      return (await this.setStatus(img.id, available(info)))!;
    } catch (e) {
      await this.setStatus(img.id, { state: 'error', reason: (e as Error).message });
      throw isYunError(e) ? e : new YunError('ValidationFailed', `image import failed: ${(e as Error).message}`, { field: '/image' });
    } finally {
      await rm(file, { force: true });
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }

  async info(id: string): Promise<ImageInfo | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(id), 'image.json'), 'utf8')) as ImageInfo;
    } catch {
      return undefined;
    }
  }

  private async setStatus(id: string, st: ImageStatus): Promise<Image | undefined> {
    const r = await new Resources(this.store).updateStatus<ImageStatus>('image', id, () => st);
    this.poke();
    return r as Image | undefined;
  }
}

const available = (i: ImageInfo): ImageStatus => ({ state: 'available', sha256: i.sha256, sizeBytes: i.sizeBytes, os: i.os, arch: i.arch });

export function imageRoutes(app: FastifyInstance, ctx: ApiContext, images: ImageService): void {
  registerResource<ImageSpec, ImageStatus>(app, ctx, {
    kind: 'image', plural: 'images', service: 'compute', idPrefix: 'img', spec: ImageSpecSchema, deletion: 'immediate',
    initialStatus: () => ({ state: 'pending' }),
    async prepare(spec, c) {
      if (spec.public && c.scope.role !== 'system-admin') throw new YunError('Forbidden', 'only cloud admins may publish public images');
      return spec;
    },
    async beforeUpdate(prev, next) {
      if (JSON.stringify(prev.spec.source) !== JSON.stringify(next.source)) throw new YunError('InvalidState', 'an image\'s source cannot change; create a new image');
    },
    async beforeDelete(r, c) {
      const users = await c.q.get<{ n: number }>("SELECT COUNT(*) AS n FROM resources WHERE kind = 'instance' AND spec LIKE ?", [`%"imageId":"${r.id}"%`]);
      if (Number(users?.n ?? 0) > 0) throw new YunError('Conflict', `image '${r.name}' is used by ${users!.n} instance(s)`);
    },
  });
  // Kick builds as soon as an image row appears; remove bytes when the row goes.
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url === '/v1/images' && req.method === 'POST' && reply.statusCode === 201) await images.resume();
    if (req.routeOptions.url === '/v1/images/:name' && req.method === 'DELETE' && reply.statusCode === 204) await gcImages(ctx.store, images);
  });
  app.register(async (sub) => {
    sub.addContentTypeParser(['application/x-tar', 'application/gzip', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
    sub.put('/images/:name/data', {
      bodyLimit: 64 * 2 ** 30,
      schema: { summary: 'Upload an image\'s bytes (rootfs tar, tar.gz, or an OCI layout as tar)', tags: ['compute'], params: Type.Object({ name: Type.String({ maxLength: 128 }) }) },
    }, async (req) => {
      const { name } = req.params as { name: string };
      const scope = await req.scope();
      await ctx.authz.authorize(req.principal!, scope, 'compute:UploadImage', ctx.authz.resourceName('compute', scope.project.id, `image/${name}`), { 'yun:SourceIp': req.ip });
      const img = await new Resources(ctx.store).require<ImageSpec, ImageStatus>('image', scope.project.id, name);
      if (!req.body || typeof (req.body as Readable).pipe !== 'function') throw new YunError('ValidationFailed', 'send the archive as the raw body with Content-Type application/x-tar or application/gzip');
      return images.upload(img, req.body as Readable);
    });
  });
}

/** Deletes image directories whose rows are gone. */
async function gcImages(store: StateStore, images: ImageService): Promise<void> {
  const ids = new Set((await store.all<{ id: string }>("SELECT id FROM resources WHERE kind = 'image'")).map((r) => r.id));
  for (const d of await readdir(images.dir('')).catch(() => [] as string[])) if (d.startsWith('img-') && !ids.has(d)) await images.remove(d);
}
