/**
 * Floating IPs / published ports: a host address and port forwarded (DNAT)
 * to a port of an instance. One host port serves one floating IP or
 * load-balancer listener; a second claim is refused with 409.
 */
import { YunError, invalid, notFound } from '../core/errors.ts';
import type { Resource } from '../core/resource.ts';
import type { ResourceDef } from '../api/resources.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Sql } from '../store/types.ts';
import { Resources } from '../store/resources.ts';
import { parseIpv4 } from './ipam.ts';
import { claimHostPort, freeHostPort, portsByInstanceName, releaseHostPorts } from './ports.ts';
import { type FloatingIpSpec, FloatingIpSpecSchema, type FloatingIpStatus, KIND } from './types.ts';

export type FloatingIpResource = Resource<FloatingIpSpec, FloatingIpStatus>;

export interface HostPortPolicy {
  /** Range auto-assigned host ports come from. */
  range: [number, number];
  /** Ports the cloud itself listens on; never published. */
  reserved: number[];
}

export const INSTANCE_KIND = 'instance';

export function checkPort(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid(field, `${field.split('/').pop()} must be an integer port 1-65535`);
  return v;
}

export function checkHostIp(v: unknown, field: string): string {
  if (v === undefined) return '0.0.0.0';
  if (v !== '0.0.0.0' && v !== '127.0.0.1') {
    if (typeof v !== 'string' || parseIpv4(v) === undefined) throw invalid(field, 'hostIp must be an IPv4 address (0.0.0.0 = every local address)');
  }
  return v as string;
}

/** Takes the host port (the given one, or a free one from the range) inside the transaction. */
export async function takeHostPort(q: Sql, policy: HostPortPolicy, protocol: string, wanted: number | undefined, ownerId: string, ownerKind: string, field: string): Promise<number> {
  if (wanted !== undefined && policy.reserved.includes(wanted)) throw new YunError('Conflict', `host port ${wanted} is used by the cloud itself`, { field });
  const port = wanted ?? await freeHostPort(q, protocol, policy.range[0], policy.range[1]);
  await claimHostPort(q, protocol, port, ownerId, ownerKind, field);
  return port;
}

async function instanceKnown(q: Sql, project: string, name: string): Promise<boolean> {
  if ((await portsByInstanceName(q, project, name)).length) return true;
  return Boolean(await new Resources(q).get(INSTANCE_KIND, project, name));
}

export function floatingIpDef(identity: IdentityService, policy: HostPortPolicy): ResourceDef<FloatingIpSpec, FloatingIpStatus> {
  return {
    kind: KIND.floatingIp, plural: 'floating-ips', service: 'network', idPrefix: 'fip', spec: FloatingIpSpecSchema, deletion: 'immediate',
    prepare: async (spec, c, prev) => {
      const protocol = spec.protocol ?? 'tcp';
      if (protocol !== 'tcp' && protocol !== 'udp') throw invalid('/spec/protocol', 'protocol must be tcp or udp');
      if (!(await instanceKnown(c.q, c.scope.project.id, spec.instance))) throw notFound(INSTANCE_KIND, spec.instance);
      const hostPort = spec.hostPort === undefined ? (prev && prev.spec.protocol === protocol ? prev.spec.hostPort : undefined) : checkPort(spec.hostPort, '/spec/hostPort');
      return {
        instance: spec.instance, ...(spec.network ? { network: spec.network } : {}), port: checkPort(spec.port, '/spec/port'),
        protocol, hostIp: checkHostIp(spec.hostIp, '/spec/hostIp'), hostPort: hostPort as number,
      };
    },
    initialStatus: () => ({ state: 'pending' }),
    afterCreate: async (r, c) => {
      const port = await takeHostPort(c.q, policy, r.spec.protocol, r.spec.hostPort, r.id, KIND.floatingIp, '/spec/hostPort');
      if (port !== r.spec.hostPort) await c.resources.updateSpec(r, { spec: { ...r.spec, hostPort: port } }).then((n) => Object.assign(r, n));
      await identity.consumeQuota(c.q, r.project, { floating_ips: 1 });
    },
    beforeUpdate: async (prev, next, c) => {
      if (next.hostPort === undefined) next.hostPort = await freeHostPort(c.q, next.protocol, policy.range[0], policy.range[1]);
      if (next.hostPort !== prev.spec.hostPort || next.protocol !== prev.spec.protocol) {
        await releaseHostPorts(c.q, prev.id);
        await takeHostPort(c.q, policy, next.protocol, next.hostPort, prev.id, KIND.floatingIp, '/spec/hostPort');
      }
    },
    beforeDelete: async (r, c) => {
      await releaseHostPorts(c.q, r.id);
      await identity.consumeQuota(c.q, r.project, { floating_ips: -1 });
    },
  };
}
