/**
 * The volume kind and its actions (attach, detach, extend): spec
 * validation, quota (volumes, volume_gb) consumed in the create transaction,
 * declarative state guards that refuse with 409 before any side effect.
 * The API only records intent; `controller.ts` makes it true.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { Resource } from '../core/resource.ts';
import type { Scope } from '../identity/types.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { resolveImage } from '../compute/images-service.ts';
import type { VolumePool } from './pool.ts';
import type { SnapshotSpec, SnapshotStatus, VolumeSpec, VolumeStatus } from './types.ts';

export type Volume = Resource<VolumeSpec, VolumeStatus>;
export type Snapshot = Resource<SnapshotSpec, SnapshotStatus>;

const MOUNT_PATH = { pattern: '^/[A-Za-z0-9._/-]*$', maxLength: 1024 };

export const VolumeSpecSchema = Type.Object({
  sizeGb: Type.Number({ exclusiveMinimum: 0, maximum: 65536 }),
  type: Type.Optional(Type.Union([Type.Literal('file'), Type.Literal('qcow2')])),
  fromSnapshot: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  fromImage: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  // Derived or set through actions (ignored on create input, refused on update).
  fromSnapshotId: Type.Optional(Type.String({ maxLength: 64 })),
  fromImageId: Type.Optional(Type.String({ maxLength: 64 })),
  attachment: Type.Optional(Type.Object({
    instanceId: Type.String({ maxLength: 64 }), instance: Type.String({ maxLength: 63 }), mountPath: Type.Optional(Type.String(MOUNT_PATH)),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** Quota a volume holds: whole GiB. */
export const volumeQuota = (sizeGb: number) => ({ volumes: 1, volume_gb: Math.ceil(sizeGb) });

/** Which states each action may start from (as data). */
export const VOLUME_ALLOWED: Record<string, string[]> = {
  attach: ['available'],
  detach: ['in-use', 'attaching', 'error'],
  extend: ['available', 'in-use'],
  snapshot: ['available', 'in-use'],
};

export function volumeGuard(v: Volume, action: string): void {
  const state = v.status.state ?? 'creating';
  if (v.deletionTimestamp) throw new YunError('InvalidState', `cannot ${action} volume '${v.name}': it is being deleted`);
  if (action === 'attach' && v.spec.attachment) throw new YunError('InvalidState', `volume '${v.name}' is in use by instance '${v.spec.attachment.instance}'; detach it first`, { details: { state } });
  if (action === 'detach' && !v.spec.attachment) throw new YunError('InvalidState', `volume '${v.name}' is not attached`, { details: { state } });
  if (action !== 'detach' && !VOLUME_ALLOWED[action]!.includes(state))
    throw new YunError('InvalidState', `cannot ${action} volume '${v.name}' while it is ${state} (allowed from: ${VOLUME_ALLOWED[action]!.join(', ')})`, { details: { state, action } });
}

export function volumeRoutes(app: FastifyInstance, ctx: ApiContext, deps: { pool: VolumePool }): void {
  registerResource<VolumeSpec, VolumeStatus>(app, ctx, {
    kind: 'volume', plural: 'volumes', service: 'block', idPrefix: 'vol', spec: VolumeSpecSchema, deletion: 'finalize',
    initialStatus: () => ({ state: 'creating' }),
    async prepare(spec, c, prev) {
      if (prev) {
        const same = (k: keyof VolumeSpec) => JSON.stringify(prev.spec[k]) === JSON.stringify(spec[k]);
        if (!same('sizeGb')) throw new YunError('InvalidState', 'change the size with POST /v1/volumes/:name/actions/extend');
        if (!same('attachment')) throw new YunError('InvalidState', 'attach and detach with POST /v1/volumes/:name/actions/attach|detach');
        if (!same('type') || !same('fromSnapshot') || !same('fromImage')) throw new YunError('InvalidState', 'a volume\'s type and source cannot change');
        return { ...spec, fromSnapshotId: prev.spec.fromSnapshotId, fromImageId: prev.spec.fromImageId };
      }
      const out: VolumeSpec = { sizeGb: spec.sizeGb, type: spec.type ?? 'file' };
      if (spec.attachment) throw invalid('/spec/attachment', 'attach after creation with POST /v1/volumes/:name/actions/attach');
      if (spec.fromSnapshot && spec.fromImage) throw invalid('/spec/fromImage', 'give fromSnapshot or fromImage, not both');
      if (spec.fromSnapshot) {
        const s = await c.resources.get<SnapshotSpec, SnapshotStatus>('volume-snapshot', c.scope.project.id, spec.fromSnapshot);
        if (!s) throw invalid('/spec/fromSnapshot', `snapshot '${spec.fromSnapshot}' not found`);
        if (s.status.state !== 'available' || s.deletionTimestamp) throw new YunError('InvalidState', `snapshot '${s.name}' is ${s.deletionTimestamp ? 'being deleted' : s.status.state ?? 'creating'}`);
        if (spec.type && s.status.type && spec.type !== s.status.type) throw invalid('/spec/type', `snapshot '${s.name}' is of a ${s.status.type} volume; a volume from it has that type`);
        if ((s.status.sizeGb ?? 0) > spec.sizeGb) throw invalid('/spec/sizeGb', `a volume from snapshot '${s.name}' needs at least ${s.status.sizeGb} GB`);
        Object.assign(out, { type: s.status.type ?? out.type, fromSnapshot: s.name, fromSnapshotId: s.id });
      }
      if (spec.fromImage) {
        const img = await resolveImage(c.q, c.scope.project.id, spec.fromImage).catch(() => undefined);
        if (!img) throw invalid('/spec/fromImage', `image '${spec.fromImage}' not found`);
        if (img.status.state !== 'available') throw new YunError('InvalidState', `image '${img.name}' is ${img.status.state ?? 'pending'}`, { field: '/spec/fromImage' });
        Object.assign(out, { fromImage: img.name, fromImageId: img.id });
      }
      return out;
    },
    async afterCreate(r, c) {
      await ctx.identity.consumeQuota(c.q, r.project, volumeQuota(r.spec.sizeGb));
      await deps.pool.claim(c.q, 0); // the row is in: the pool now counts it
    },
    async beforeDelete(r, c) {
      if (r.deletionTimestamp) return;
      const at = r.spec.attachment ?? r.status.attachment;
      if (at) throw new YunError('InvalidState', `volume '${r.name}' is attached to instance '${at.instance}'; detach it first`);
      if (['attaching', 'detaching', 'extending'].includes(r.status.state ?? '')) throw new YunError('InvalidState', `volume '${r.name}' is ${r.status.state}`);
      await c.resources.updateStatus<VolumeStatus>('volume', r.id, (s) => ({ ...s, state: 'deleting' }));
    },
  });

  const authorize = async (req: FastifyRequest, verb: string): Promise<{ scope: Scope; name: string }> => {
    const { name } = req.params as { name: string };
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `block:${verb}Volume`, ctx.authz.resourceName('block', scope.project.id, `volume/${name}`), { 'yun:SourceIp': req.ip });
    return { scope, name };
  };
  const change = async (req: FastifyRequest, action: string, verb: string, mutate: (v: Volume, q: Sql, scope: Scope) => Promise<VolumeSpec>) => {
    const { scope, name } = await authorize(req, verb);
    const r = await ctx.store.tx(async (q) => {
      const cur = await new Resources(q).require<VolumeSpec, VolumeStatus>('volume', scope.project.id, name) as Volume;
      volumeGuard(cur, action);
      return new Resources(q).updateSpec(cur, { spec: await mutate(cur, q, scope) });
    });
    ctx.bus.poke();
    return r;
  };
  const Params = Type.Object({ name: Type.String({ maxLength: 128 }) });
  const AttachBody = Type.Object({ instance: Type.String({ minLength: 1, maxLength: 63 }), mountPath: Type.Optional(Type.String(MOUNT_PATH)) }, { additionalProperties: false });
  const ExtendBody = Type.Object({ sizeGb: Type.Number({ exclusiveMinimum: 0, maximum: 65536 }) }, { additionalProperties: false });

  app.post('/volumes/:name/actions/attach', { schema: { summary: 'Attach a volume to an instance (VM: virtio disk, hot-plugged; container: mounted filesystem)', tags: ['block'], params: Params, body: AttachBody } }, async (req, reply) => {
    const b = req.body as { instance: string; mountPath?: string };
    if (b.mountPath?.split('/').includes('..')) throw invalid('/mountPath', 'mountPath must not contain ..');
    const r = await change(req, 'attach', 'Attach', async (v, q, scope) => {
      const inst = await new Resources(q).get<{ type?: string }>('instance', scope.project.id, b.instance);
      if (!inst) throw invalid('/instance', `instance '${b.instance}' not found`);
      if (inst.deletionTimestamp) throw new YunError('InvalidState', `instance '${inst.name}' is being deleted`);
      const vm = inst.spec.type === 'vm';
      if (!vm && v.spec.type === 'qcow2') throw new YunError('InvalidState', `qcow2 volumes attach to VMs only; '${v.name}' cannot be mounted in container '${inst.name}'`);
      const mountPath = vm ? undefined : (b.mountPath ?? `/mnt/${v.name}`);
      if (mountPath) {
        const others = await new Resources(q).all<VolumeSpec, VolumeStatus>('volume', scope.project.id);
        const clash = others.find((o) => o.id !== v.id && o.spec.attachment?.instanceId === inst.id && o.spec.attachment.mountPath === mountPath);
        if (clash) throw new YunError('Conflict', `volume '${clash.name}' is already mounted at ${mountPath} in '${inst.name}'`);
      }
      return { ...v.spec, attachment: { instanceId: inst.id, instance: inst.name, ...(mountPath ? { mountPath } : {}) } };
    });
    return reply.code(202).send(r);
  });

  app.post('/volumes/:name/actions/detach', { schema: { summary: 'Detach a volume from its instance', tags: ['block'], params: Params } }, async (req, reply) => {
    const r = await change(req, 'detach', 'Detach', async (v) => {
      const spec = { ...v.spec };
      delete spec.attachment;
      return spec;
    });
    return reply.code(202).send(r);
  });

  app.post('/volumes/:name/actions/extend', { schema: { summary: 'Grow a volume (live on a running VM)', tags: ['block'], params: Params, body: ExtendBody } }, async (req, reply) => {
    const b = req.body as { sizeGb: number };
    const r = await change(req, 'extend', 'Extend', async (v, q) => {
      if (!(b.sizeGb > v.spec.sizeGb)) throw invalid('/sizeGb', `volumes only grow: '${v.name}' is ${v.spec.sizeGb} GB`);
      await ctx.identity.consumeQuota(q, v.project, { volume_gb: Math.ceil(b.sizeGb) - Math.ceil(v.spec.sizeGb) });
      await deps.pool.claim(q, b.sizeGb - v.spec.sizeGb);
      return { ...v.spec, sizeGb: b.sizeGb };
    });
    return reply.code(202).send(r);
  });
}
