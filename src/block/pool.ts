/**
 * The volume pool of this host: the filesystem under `$YUN_HOME/block`.
 * Volumes are thin, so the pool hands out up to `capacity × overcommit` GB
 * of virtual size; creating or extending past that is refused (409) before
 * anything is made. `GET /v1/volume-pool` shows the figures.
 */
import { mkdir, statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { YunError } from '../core/errors.ts';
import type { Sql } from '../store/types.ts';

export interface PoolOptions {
  dir: string;
  /** Physical capacity in GB; default the size of the filesystem holding `dir`. */
  capacityGb?: number;
  /** Virtual GB handed out per physical GB. Default 4. */
  overcommit?: number;
}

export interface PoolInfo {
  capacityGb: number;
  overcommit: number;
  /** Sum of the virtual sizes of every volume (all projects). */
  allocatedGb: number;
  limitGb: number;
  /** Free space on the pool's filesystem. */
  freeGb: number;
}

const GB = 2 ** 30;

export class VolumePool {
  constructor(private readonly o: PoolOptions) {}

  async info(q: Sql): Promise<PoolInfo> {
    await mkdir(this.o.dir, { recursive: true });
    const s = await statfs(this.o.dir);
    const capacityGb = this.o.capacityGb ?? Math.floor((s.blocks * s.bsize) / GB);
    const overcommit = this.o.overcommit ?? 4;
    const rows = await q.all<{ spec: string }>("SELECT spec FROM resources WHERE kind = 'volume'");
    const allocatedGb = rows.reduce((n, r) => n + Number((JSON.parse(r.spec) as { sizeGb?: number }).sizeGb ?? 0), 0);
    return { capacityGb, overcommit, allocatedGb, limitGb: capacityGb * overcommit, freeGb: Math.floor((s.bavail * s.bsize) / GB) };
  }

  /** Refuses `addGb` more virtual GB when the pool would pass capacity × overcommit. Call inside the create/extend transaction. */
  async claim(q: Sql, addGb: number): Promise<void> {
    const p = await this.info(q);
    if (p.allocatedGb + addGb > p.limitGb)
      throw new YunError('Conflict', `volume pool full: ${p.allocatedGb} of ${p.limitGb} GB allocated (${p.capacityGb} GB × overcommit ${p.overcommit}); ${addGb} GB more does not fit`, { details: { ...p } });
  }
}

export function poolRoutes(app: FastifyInstance, ctx: ApiContext, pool: VolumePool): void {
  app.get('/volume-pool', { schema: { summary: 'This host\'s volume pool: capacity, overcommit, allocated virtual GB', tags: ['block'] } }, async (req) => {
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, 'block:GetVolumePool', ctx.authz.resourceName('block', scope.project.id, 'volume-pool'), { 'yun:SourceIp': req.ip });
    return pool.info(ctx.store);
  });
}
