/**
 * Ports: the IPAM allocations of instance NICs, kept in `net_ports`. All
 * functions take a `Sql` so callers run them inside their own transaction.
 */
import { YunError } from '../core/errors.ts';
import { isUniqueViolation } from '../store/index.ts';
import type { Sql } from '../store/types.ts';
import type { NicKind } from './drivers/types.ts';

export interface Port {
  portId: string;
  networkId: string;
  project: string;
  instanceId: string;
  instanceName: string;
  ip: string;
  securityGroups: string[];
  dnsName?: string;
  /** NIC index in the instance (0 = eth0). */
  nic: number;
  /** `tap` for a VM's NIC, `veth` for a container's. */
  kind: NicKind;
  createdAt: string;
}

interface Row {
  port_id: string; network_id: string; project: string; instance_id: string; instance_name: string; ip: string;
  security_groups: string; dns_name: string | null; nic: number; kind: string; created_at: string;
}

const fromRow = (r: Row): Port => ({
  portId: r.port_id, networkId: r.network_id, project: r.project, instanceId: r.instance_id, instanceName: r.instance_name,
  ip: r.ip, securityGroups: JSON.parse(r.security_groups), ...(r.dns_name ? { dnsName: r.dns_name } : {}), nic: Number(r.nic), kind: r.kind === 'tap' ? 'tap' : 'veth', createdAt: r.created_at,
});

export const portIdOf = (instanceId: string, networkId: string) => `p-${instanceId}-${networkId}`.slice(0, 128);

export async function allPorts(q: Sql): Promise<Port[]> {
  return (await q.all<Row>('SELECT * FROM net_ports ORDER BY network_id, ip')).map(fromRow);
}

export async function portsOfNetwork(q: Sql, networkId: string): Promise<Port[]> {
  return (await q.all<Row>('SELECT * FROM net_ports WHERE network_id = ? ORDER BY ip', [networkId])).map(fromRow);
}

export async function portsOfInstance(q: Sql, instanceId: string): Promise<Port[]> {
  return (await q.all<Row>('SELECT * FROM net_ports WHERE instance_id = ? ORDER BY nic', [instanceId])).map(fromRow);
}

export async function portsByInstanceName(q: Sql, project: string, name: string): Promise<Port[]> {
  return (await q.all<Row>('SELECT * FROM net_ports WHERE project = ? AND instance_name = ? ORDER BY nic', [project, name])).map(fromRow);
}

export async function portByIp(q: Sql, ip: string): Promise<Port | undefined> {
  const r = await q.get<Row>('SELECT * FROM net_ports WHERE ip = ? ORDER BY created_at LIMIT 1', [ip]);
  return r ? fromRow(r) : undefined;
}

export async function countPorts(q: Sql, networkId: string): Promise<number> {
  const r = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM net_ports WHERE network_id = ?', [networkId]);
  return Number(r?.n ?? 0);
}

export async function insertPort(q: Sql, p: Port): Promise<void> {
  try {
    await q.run(`INSERT INTO net_ports (port_id, network_id, project, instance_id, instance_name, ip, security_groups, dns_name, nic, kind, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [p.portId, p.networkId, p.project, p.instanceId, p.instanceName, p.ip, JSON.stringify(p.securityGroups), p.dnsName ?? null, p.nic, p.kind, p.createdAt]);
  } catch (e) {
    if (isUniqueViolation(e)) throw new YunError('Conflict', `address ${p.ip} is already allocated`, { field: '/spec/networks' });
    throw e;
  }
}

/** Replaces the security groups of every port of an instance (inside the caller's transaction). */
export async function setInstancePortGroups(q: Sql, instanceId: string, groups: string[]): Promise<void> {
  await q.run('UPDATE net_ports SET security_groups = ? WHERE instance_id = ?', [JSON.stringify(groups), instanceId]);
}

export async function deletePortsOfInstance(q: Sql, instanceId: string): Promise<number> {
  return (await q.run('DELETE FROM net_ports WHERE instance_id = ?', [instanceId])).changes;
}

/** Claims a host port for a floating IP or listener; Conflict names the field when taken. */
export async function claimHostPort(q: Sql, protocol: string, hostPort: number, ownerId: string, ownerKind: string, field: string): Promise<void> {
  const cur = await q.get<{ owner_id: string }>('SELECT owner_id FROM net_host_ports WHERE protocol = ? AND host_port = ?', [protocol, hostPort]);
  if (cur?.owner_id === ownerId) return;
  if (cur) throw new YunError('Conflict', `host port ${protocol}/${hostPort} is already published`, { field, details: { hostPort } });
  try {
    await q.run('INSERT INTO net_host_ports (protocol, host_port, owner_id, owner_kind) VALUES (?, ?, ?, ?)', [protocol, hostPort, ownerId, ownerKind]);
  } catch (e) {
    if (isUniqueViolation(e)) throw new YunError('Conflict', `host port ${protocol}/${hostPort} is already published`, { field });
    throw e;
  }
}

export async function releaseHostPorts(q: Sql, ownerId: string): Promise<void> {
  await q.run('DELETE FROM net_host_ports WHERE owner_id = ?', [ownerId]);
}

/** Lowest free port of [min, max] for `protocol`. */
export async function freeHostPort(q: Sql, protocol: string, min: number, max: number): Promise<number> {
  const used = new Set((await q.all<{ host_port: number }>('SELECT host_port FROM net_host_ports WHERE protocol = ? AND host_port BETWEEN ? AND ?', [protocol, min, max])).map((r) => Number(r.host_port)));
  for (let p = min; p <= max; p++) if (!used.has(p)) return p;
  throw new YunError('Conflict', `no free host port in ${min}-${max}`, { field: '/spec/hostPort' });
}
