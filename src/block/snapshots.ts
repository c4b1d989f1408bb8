/**
 * The volume-snapshot kind: a frozen copy of a volume's bytes, independent
 * of the volume's later life. Quota `snapshots`. A volume attached to a
 * running VM is copied by QEMU as of one instant (crash-consistent, like an
 * EBS snapshot of an in-use volume; see the controller); refused (409) only
 * where the volume's driver cannot take live snapshots. A container's volume
 * is frozen (fsfreeze) while the snapshot is taken.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { SnapshotSpec, SnapshotStatus, VolumeSpec, VolumeStatus, VolumeType } from './types.ts';
import { volumeGuard, type Volume } from './volumes.ts';

export const SnapshotSpecSchema = Type.Object({
  volume: Type.String({ minLength: 1, maxLength: 63 }),
  volumeId: Type.Optional(Type.String({ maxLength: 64 })),
  description: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

export function snapshotRoutes(app: FastifyInstance, ctx: ApiContext, deps: { isVm: (instanceId: string) => boolean; liveSnapshots: (type: VolumeType) => boolean }): void {
  registerResource<SnapshotSpec, SnapshotStatus>(app, ctx, {
    kind: 'volume-snapshot', plural: 'volume-snapshots', service: 'block', idPrefix: 'snap', spec: SnapshotSpecSchema, deletion: 'finalize',
    initialStatus: () => ({ state: 'creating' }),
    async prepare(spec, c, prev) {
      if (prev) {
        if (spec.volume !== prev.spec.volume) throw new YunError('InvalidState', 'a snapshot\'s volume cannot change');
        return { ...spec, volumeId: prev.spec.volumeId };
      }
      const v = await c.resources.get<VolumeSpec, VolumeStatus>('volume', c.scope.project.id, spec.volume) as Volume | undefined;
      if (!v) throw invalid('/spec/volume', `volume '${spec.volume}' not found`);
      volumeGuard(v, 'snapshot');
      const at = v.spec.attachment ?? v.status.attachment;
      if (at && (v.status.attachment?.kind === 'vm' || deps.isVm(at.instanceId)) && !deps.liveSnapshots(v.spec.type ?? 'file'))
        throw new YunError('InvalidState', `volume '${v.name}' is attached to VM '${at.instance}' and its ${v.spec.type ?? 'file'} driver takes no live snapshots; detach it first`);
      return { volume: v.name, volumeId: v.id, ...(spec.description ? { description: spec.description } : {}) };
    },
    async afterCreate(r, c) {
      await ctx.identity.consumeQuota(c.q, r.project, { snapshots: 1 });
    },
    async beforeDelete(r, c) {
      if (r.deletionTimestamp) return;
      await c.resources.updateStatus<SnapshotStatus>('volume-snapshot', r.id, (s) => ({ ...s, state: 'deleting' }));
    },
  });
}
