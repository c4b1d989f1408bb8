/**
 * Computes what the host should look like from the store: driver networks,
 * ports with their flattened security rules, published ports and load
 * balancer data-plane specs. Pure reads; the controller diffs and applies.
 */
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import type { AttachSpec, NetworkSpec, PublishSpec, SecurityRule } from './drivers/types.ts';
import type { LoadBalancerSpec as LbPlaneSpec } from './lb/types.ts';
import type { FloatingIpResource } from './floating-ips.ts';
import type { LoadBalancerResource } from './load-balancers.ts';
import { type NetworkResource, dnsDomainOf } from './networks.ts';
import { type Port, allPorts } from './ports.ts';
import type { SecurityGroupResource } from './security-groups.ts';
import { KIND } from './types.ts';

export interface Desired {
  networks: Map<string, { spec: NetworkSpec; resource: NetworkResource }>;
  ports: Map<string, { spec: AttachSpec; port: Port }>;
  published: Map<string, { spec?: PublishSpec; resource: FloatingIpResource; problem?: string }>;
  lbs: Map<string, { spec: LbPlaneSpec; resource: LoadBalancerResource; missing: string[] }>;
}

export const driverNetwork = (n: NetworkResource): NetworkSpec => ({
  id: n.id, cidr: n.spec.cidr, gateway: n.spec.gateway, mtu: n.spec.mtu, nat: n.spec.nat, dnsDomain: dnsDomainOf(n.name),
});

export const dnsNameOf = (instanceName: string, networkName: string) => `${instanceName}.${dnsDomainOf(networkName)}`;

/** Rules of a port: its groups' rules, remote groups flattened to member addresses, plus implicit opens. */
export function portRules(p: Port, groups: Map<string, SecurityGroupResource>, ports: Port[], implicit: SecurityRule[]): SecurityRule[] {
  const out: SecurityRule[] = [];
  for (const g of p.securityGroups) {
    const sg = groups.get(`${p.project}/${g}`);
    if (!sg) continue;
    for (const r of sg.spec.rules) {
      const base: SecurityRule = { direction: r.direction, protocol: r.protocol, ...(r.portMin !== undefined ? { portMin: r.portMin, portMax: r.portMax } : {}) };
      if (r.remoteCidr) out.push({ ...base, remoteCidr: r.remoteCidr });
      else if (r.remoteGroup) {
        const members = ports.filter((x) => x.project === p.project && x.securityGroups.includes(r.remoteGroup!) && x.portId !== p.portId).map((x) => x.ip);
        out.push({ ...base, remoteGroupMembers: [...new Set(members)].sort() });
      } else out.push(base);
    }
  }
  return [...out, ...implicit];
}

/** The first port of a named instance, on `network` when given. */
export function targetPort(ports: Port[], networks: Map<string, NetworkResource>, project: string, instance: string, network?: string): Port | undefined {
  return ports
    .filter((p) => p.project === project && p.instanceName === instance && (!network || networks.get(p.networkId)?.name === network))
    .sort((a, b) => a.nic - b.nic)[0];
}

function lbPlane(lb: LoadBalancerResource, ports: Port[], networks: Map<string, NetworkResource>): { spec: LbPlaneSpec; missing: string[] } {
  const s = lb.spec;
  const missing: string[] = [];
  const members = s.members.flatMap((m) => {
    const p = targetPort(ports, networks, lb.project, m.instance, s.network);
    if (!p) { missing.push(m.instance); return []; }
    return [{ id: `${m.instance}-${m.port}`, host: p.ip, port: m.port, instance: m.instance }];
  });
  const hc = { type: (s.healthCheck.path ? 'http' : 'tcp') as 'http' | 'tcp', ...(s.healthCheck.path ? { path: s.healthCheck.path } : {}),
    intervalMs: s.healthCheck.intervalMs, timeoutMs: s.healthCheck.timeoutMs, rise: s.healthCheck.healthyThreshold, fall: s.healthCheck.unhealthyThreshold };
  const algorithm = s.algorithm === 'least-conn' ? 'least_connections' as const : 'round_robin' as const;
  const pool = (id: string, names?: string[]) => ({
    id, algorithm, healthCheck: hc,
    members: members.filter((m) => !names || names.includes(m.instance)).map(({ id: mid, host, port }) => ({ id: mid, host, port })),
  });
  const pools = [pool('default'), ...(s.rules ?? []).map((r, i) => pool(`rule${i}`, r.members))];
  const listeners = s.listeners.map((l, i) => ({
    id: `l${i}`, protocol: l.protocol, host: l.hostIp, port: l.port, defaultPool: 'default',
    ...(l.protocol === 'http' && s.rules?.length ? { routes: s.rules.map((r, j) => ({ ...(r.host ? { host: r.host } : {}), ...(r.pathPrefix ? { pathPrefix: r.pathPrefix } : {}), pool: `rule${j}` })) } : {}),
  }));
  return { spec: { id: lb.id, listeners, pools }, missing };
}

/**
 * `sharedHost`: the driver gives instances no own address (host driver), so
 * published ports and load balancer members target 127.0.0.1.
 */
export async function computeDesired(q: Sql, sharedHost = false): Promise<Desired> {
  const res = new Resources(q);
  const nets = (await res.all<NetworkResource['spec'], NetworkResource['status']>(KIND.network)) as NetworkResource[];
  const byId = new Map(nets.map((n) => [n.id, n]));
  const groups = new Map(((await res.all(KIND.securityGroup)) as unknown as SecurityGroupResource[]).map((g) => [`${g.project}/${g.name}`, g]));
  const fips = (await res.all(KIND.floatingIp)) as unknown as FloatingIpResource[];
  const lbs = (await res.all(KIND.loadBalancer)) as unknown as LoadBalancerResource[];
  const stored = (await allPorts(q)).filter((p) => byId.has(p.networkId));
  const ports = sharedHost ? stored.map((p) => ({ ...p, ip: '127.0.0.1' })) : stored;

  // Implicit opens: a published port is reachable from anywhere; load balancer members from their gateway.
  const implicit = new Map<string, SecurityRule[]>();
  const add = (portId: string, r: SecurityRule) => implicit.set(portId, [...(implicit.get(portId) ?? []), r]);
  const published: Desired['published'] = new Map();
  for (const f of fips) {
    const p = targetPort(ports, byId, f.project, f.spec.instance, f.spec.network);
    if (!p) { published.set(f.id, { resource: f, problem: `instance '${f.spec.instance}' has no address${f.spec.network ? ` on network '${f.spec.network}'` : ''} yet` }); continue; }
    add(p.portId, { direction: 'ingress', protocol: f.spec.protocol, portMin: f.spec.port, portMax: f.spec.port });
    published.set(f.id, { resource: f, spec: { id: f.id, hostIp: f.spec.hostIp, hostPort: f.spec.hostPort, protocol: f.spec.protocol, targetIp: p.ip, targetPort: f.spec.port } });
  }
  const lbOut: Desired['lbs'] = new Map();
  for (const lb of lbs) {
    const plane = lbPlane(lb, ports, byId);
    const gw = nets.find((n) => n.project === lb.project && n.name === lb.spec.network)?.spec.gateway;
    for (const m of lb.spec.members) {
      const p = targetPort(ports, byId, lb.project, m.instance, lb.spec.network);
      if (p && gw) add(p.portId, { direction: 'ingress', protocol: 'tcp', portMin: m.port, portMax: m.port, remoteCidr: `${gw}/32` });
    }
    lbOut.set(lb.id, { spec: plane.spec, resource: lb, missing: plane.missing });
  }

  const portOut: Desired['ports'] = new Map();
  for (const [i, p0] of stored.entries()) {
    const p = ports[i]!;
    portOut.set(p.portId, {
      port: p0,
      spec: { networkId: p.networkId, portId: p.portId, instanceId: p.instanceId, ip: p0.ip, nic: p.kind, ...(p.dnsName ? { dnsName: p.dnsName } : {}), securityRules: portRules(p, groups, ports, implicit.get(p.portId) ?? []) },
    });
  }
  return { networks: new Map(nets.map((n) => [n.id, { spec: driverNetwork(n), resource: n }])), ports: portOut, published, lbs: lbOut };
}
