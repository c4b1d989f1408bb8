import { statfs } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { registerResource } from '../api/resources.ts';
import { SYSTEM_PROJECT, type Resource } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';

export interface HostSpec {
  zone: string;
  pool: string;
  address: string;
  hostLabels: Record<string, string>;
  capacity: { cpus: number; memoryMb: number; diskGb: number };
  /** Overcommit ratios of this host's pool. */
  overcommit: { cpu: number; ram: number; disk: number };
  drivers: string[];
  arch: string;
}

export interface HostStatus {
  state?: 'up' | 'down';
  lastHeartbeat?: string;
  allocated?: { cpus: number; memoryMb: number; diskGb: number; instances: number };
  [k: string]: unknown;
}

export const HostSpecSchema = Type.Object({
  zone: Type.String(), pool: Type.String(), address: Type.String(),
  hostLabels: Type.Record(Type.String(), Type.String()),
  capacity: Type.Object({ cpus: Type.Number({ minimum: 0 }), memoryMb: Type.Integer({ minimum: 0 }), diskGb: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  overcommit: Type.Object({ cpu: Type.Number({ minimum: 0.1 }), ram: Type.Number({ minimum: 0.1 }), disk: Type.Number({ minimum: 0.1 }) }, { additionalProperties: false }),
  drivers: Type.Array(Type.String()), arch: Type.String(),
}, { additionalProperties: false });

export function hostRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerResource<HostSpec, HostStatus>(app, ctx, { kind: 'host', plural: 'hosts', service: 'scheduler', idPrefix: 'host', spec: HostSpecSchema, global: true, deletion: 'immediate' });
}

/** Host names are DNS labels derived from the machine's hostname. */
export function localHostName(): string {
  return (hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63)) || 'localhost';
}

/**
 * The local agent's registration: upserts this machine as a host with its
 * capacity and heartbeats. (The in-process agent writes through the
 * resource table; remote agents will do the same through the API.)
 */
export async function registerLocalHost(store: StateStore, o: { zone: string; dataDir: string; drivers: string[]; name?: string }): Promise<Resource<HostSpec, HostStatus>> {
  const res = new Resources(store);
  const name = o.name ?? localHostName();
  let diskGb = 0;
  try {
    const s = await statfs(o.dataDir);
    diskGb = Math.floor((s.blocks * s.bsize) / 2 ** 30);
  } catch { diskGb = 0; }
  const spec: HostSpec = {
    zone: o.zone, pool: 'default', address: '127.0.0.1', hostLabels: {},
    capacity: { cpus: cpus().length, memoryMb: Math.floor(totalmem() / 2 ** 20), diskGb },
    overcommit: { cpu: 4, ram: 1, disk: 1 }, drivers: o.drivers, arch: process.arch === 'x64' ? 'x86_64' : process.arch,
  };
  const existing = await res.get<HostSpec, HostStatus>('host', SYSTEM_PROJECT, name);
  const host = existing
    ? (JSON.stringify(existing.spec) === JSON.stringify({ ...spec, overcommit: existing.spec.overcommit, hostLabels: existing.spec.hostLabels, pool: existing.spec.pool })
      ? existing
      : await res.updateSpec(existing, { spec: { ...spec, overcommit: existing.spec.overcommit, hostLabels: existing.spec.hostLabels, pool: existing.spec.pool } }))
    : await res.create<HostSpec, HostStatus>({ kind: 'host', project: SYSTEM_PROJECT, name, spec, idPrefix: 'host', status: { state: 'up' } });
  await heartbeat(store, host.id);
  return host;
}

export async function heartbeat(store: StateStore, hostId: string): Promise<void> {
  await new Resources(store).updateStatus<HostStatus>('host', hostId, (s) => ({ ...s, state: 'up', lastHeartbeat: new Date().toISOString() }));
}
