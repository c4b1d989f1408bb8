/**
 * The volume-snapshot kind: a frozen copy of a volume's bytes, independent
 * of the volume's later life. Quota `snapshots`. Refused (409) for a volume
 * attached to a VM: the volume drivers take no live snapshots of a disk a
 * running guest writes to. A container's volume is frozen (fsfreeze) while
 * the snapshot is taken.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError, invalid } from '../core/errors.ts';
import type { SnapshotSpec, SnapshotStatus, VolumeSpec, VolumeStatus } from './types.ts';
import { volumeGuard, type Volume } from './volumes.ts';

export const SnapshotSpecSchema = Type.Object({
  volume: Type.String({ minLength: 1, maxLength: 63 }),
  volumeId: Type.Optional(Type.String({ maxLength: 64 })),
  description: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

export function snapshotRoutes(app: FastifyInstance, ctx: ApiContext, deps: { isVm: (instanceId: string) => boolean }): void {
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
      if (at && (v.status.attachment?.kind === 'vm' || deps.isVm(at.instanceId)))
        throw new YunError('InvalidState', `volume '${v.name}' is attached to VM '${at.instance}'; detach it first (no live snapshots of VM disks)`);
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
