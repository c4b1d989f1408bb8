/**
 * Pure planning for the linux driver: address and overlap checks, NIC naming
 * inside the instance namespace, and the next model for reconcile().
 */
import { YunError } from '../../../core/errors.ts';
import { broadcastOf, contains, overlaps, parseCidr, parseIpv4 } from '../../ipam.ts';
import type { AttachSpec, DnsRecord, NetworkSpec, PublishSpec } from '../types.ts';
import { publishClash } from '../validate.ts';
import type { Names } from './names.ts';
import { type DriverState, emptyState, type PortState } from './state.ts';

type Net = Required<NetworkSpec>;

export function checkOverlap(net: Net, others: Net[]): void {
  const c = parseCidr(net.cidr);
  for (const o of others) {
    if (o.id !== net.id && overlaps(c, parseCidr(o.cidr))) {
      throw new YunError('Conflict', `network ${net.id} (${net.cidr}) overlaps network ${o.id} (${o.cidr}) on this host`, { field: 'cidr' });
    }
  }
}

export function checkPortAddress(net: Net, portId: string, ip: string, ports: PortState[]): void {
  const c = parseCidr(net.cidr);
  const n = parseIpv4(ip)!;
  if (!contains(c, n) || n === c.network || ip === net.gateway || n === broadcastOf(c)) {
    throw new YunError('ValidationFailed', `ip ${ip} is not a usable address of ${net.cidr}`, { field: 'ip' });
  }
  const clash = ports.find((p) => p.ip === ip && p.portId !== portId);
  if (clash) throw new YunError('Conflict', `ip ${ip} is already used by port ${clash.portId}`, { field: 'ip' });
}

/** Lowest `ethN` not used by the instance's other ports. */
export function freeIfname(instanceId: string, ports: PortState[]): string {
  const used = new Set(ports.filter((p) => p.instanceId === instanceId).map((p) => p.ifname));
  for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}

export interface ValidDesired {
  networks: Net[];
  ports: AttachSpec[];
  published: PublishSpec[];
  dns: Record<string, DnsRecord[]>;
}

/**
 * The model reconcile() converges to. Ports keep their interface name when
 * they stay with the same instance, so a restart never renames a NIC.
 */
export function planState(d: ValidDesired, old: DriverState, names: Names): DriverState {
  const next = emptyState();
  for (const n of d.networks) {
    checkOverlap(n, Object.values(next.networks));
    next.networks[n.id] = n;
  }
  const toPort = (v: AttachSpec, ifname: string): PortState => ({
    networkId: v.networkId, portId: v.portId, instanceId: v.instanceId, ip: v.ip,
    mac: v.mac ?? names.mac(v.portId), dnsName: v.dnsName, ifname, rules: v.securityRules ?? [], nic: v.nic ?? 'veth',
  });
  const fresh: AttachSpec[] = [];
  const seen: PortState[] = [];
  for (const v of d.ports) {
    const net = next.networks[v.networkId];
    if (!net) throw new YunError('ValidationFailed', `port ${v.portId} refers to unknown network ${v.networkId}`, { field: 'ports' });
    checkPortAddress(net, v.portId, v.ip, seen);
    seen.push(toPort(v, ''));
    const prev = old.ports[v.portId];
    if (prev && (prev.nic ?? 'veth') !== (v.nic ?? 'veth')) {
      fresh.push(v);
      continue;
    }
    const taken = prev && Object.values(next.ports).some((p) => p.instanceId === v.instanceId && p.ifname === prev.ifname);
    if (prev && prev.instanceId === v.instanceId && !taken) next.ports[v.portId] = toPort(v, prev.ifname);
    else fresh.push(v);
  }
  for (const v of fresh) next.ports[v.portId] = toPort(v, freeIfname(v.instanceId, Object.values(next.ports)));
  for (const p of d.published) {
    const clash = Object.values(next.published).find((q) => publishClash(p, q));
    if (clash) throw new YunError('Conflict', `published ports ${p.id} and ${clash.id} clash`, { field: 'publishedPorts' });
    next.published[p.id] = p;
  }
  for (const [k, v] of Object.entries(d.dns)) if (next.networks[k]) next.dns[k] = v;
  return next;
}
