/**
 * Resource pools: hosts grouped by `spec.pool`, each host carrying its
 * pool's overcommit ratios. `GET /v1/pools` sums capacity, what may be
 * allocated after overcommit, and what is allocated. Server groups
 * (affinity / anti-affinity) are a small project-scoped kind the
 * scheduler's filters read.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { YunError } from '../core/errors.ts';
import type { Scheduler } from './placement.ts';
import type { Amounts } from './types.ts';

export interface PoolSummary {
  name: string;
  hosts: number;
  zones: string[];
  overcommit: { cpu: number; ram: number; disk: number };
  capacity: Amounts;
  allocatable: Amounts;
  allocated: Amounts & { instances: number };
}

export function summarizePools(s: Scheduler): PoolSummary[] {
  const pools = new Map<string, PoolSummary>();
  for (const h of s.hostList()) {
    const p = pools.get(h.pool) ?? {
      name: h.pool, hosts: 0, zones: [], overcommit: h.overcommit,
      capacity: { cpus: 0, memoryMb: 0, diskGb: 0 }, allocatable: { cpus: 0, memoryMb: 0, diskGb: 0 }, allocated: { cpus: 0, memoryMb: 0, diskGb: 0, instances: 0 },
    };
    p.hosts++;
    if (!p.zones.includes(h.zone)) p.zones.push(h.zone);
    for (const k of ['cpus', 'memoryMb', 'diskGb'] as const) {
      p.capacity[k] += h.capacity[k];
      p.allocatable[k] += h.limit[k];
      p.allocated[k] += h.used[k];
    }
    p.allocated.instances += h.used.instances;
    pools.set(h.pool, p);
  }
  return [...pools.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface ServerGroupSpec { policy: 'affinity' | 'anti-affinity' }

export function poolRoutes(app: FastifyInstance, ctx: ApiContext, scheduler: () => Scheduler | undefined): void {
  app.get('/pools', { schema: { summary: 'Resource pools: capacity, overcommit, allocation', tags: ['scheduler'] } }, async (req) => {
    await req.scope();
    const s = scheduler();
    if (!s) throw new YunError('Unavailable', 'the scheduler is not running yet');
    await s.load();
    return { items: summarizePools(s) };
  });
  app.get('/hosts/:name/allocation', { schema: { summary: 'What is allocated on a host', tags: ['scheduler'], params: Type.Object({ name: Type.String({ maxLength: 128 }) }) } }, async (req) => {
    await req.scope();
    const s = scheduler();
    if (!s) throw new YunError('Unavailable', 'the scheduler is not running yet');
    await s.load();
    const { name } = req.params as { name: string };
    const h = s.hostList().find((x) => x.name === name || x.id === name);
    if (!h) throw new YunError('NotFound', `host '${name}' not found`);
    return { name: h.name, pool: h.pool, capacity: h.capacity, overcommit: h.overcommit, allocatable: h.limit, allocated: h.used };
  });
  registerResource<ServerGroupSpec>(app, ctx, {
    kind: 'server-group', plural: 'server-groups', service: 'compute', idPrefix: 'sg', deletion: 'immediate',
    spec: Type.Object({ policy: Type.Union([Type.Literal('affinity'), Type.Literal('anti-affinity')]) }, { additionalProperties: false }),
  });
}
