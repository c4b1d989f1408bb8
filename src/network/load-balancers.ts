/**
 * Load balancers: listeners on host ports spreading connections (tcp) or
 * requests (http) over member instances of one network, with active health
 * checks. The API only records intent and claims the listener host ports;
 * the controller drives the data plane (../lb).
 */
import { YunError, invalid, notFound } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import type { Resource } from '../core/resource.ts';
import type { ResourceCallContext, ResourceDef } from '../api/resources.ts';
import type { IdentityService } from '../identity/service.ts';
import { Resources } from '../store/resources.ts';
import { type HostPortPolicy, checkHostIp, checkPort, takeHostPort } from './floating-ips.ts';
import { DEFAULT_NETWORK, type NetworkResource } from './networks.ts';
import { releaseHostPorts } from './ports.ts';
import { KIND, type LoadBalancerSpec, LoadBalancerSpecSchema, type LoadBalancerStatus } from './types.ts';

export type LoadBalancerResource = Resource<LoadBalancerSpec, LoadBalancerStatus>;

function intIn(v: number | undefined, dflt: number, min: number, max: number, field: string): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(field, `${field.split('/').pop()} must be an integer ${min}-${max}`);
  return n;
}

export async function normalizeLb(spec: Partial<LoadBalancerSpec>, c: ResourceCallContext): Promise<LoadBalancerSpec> {
  const network = spec.network ?? DEFAULT_NETWORK;
  if (!(await new Resources(c.q).get(KIND.network, c.scope.project.id, network))) throw notFound(KIND.network, network);
  const algorithm = spec.algorithm ?? 'round-robin';
  if (algorithm !== 'round-robin' && algorithm !== 'least-conn') throw invalid('/spec/algorithm', 'algorithm must be round-robin or least-conn');
  const listeners = (spec.listeners ?? []).map((l, i) => {
    if (l.protocol !== 'http' && l.protocol !== 'tcp') throw invalid(`/spec/listeners/${i}/protocol`, 'protocol must be http or tcp');
    return { protocol: l.protocol, port: checkPort(l.port, `/spec/listeners/${i}/port`), hostIp: checkHostIp(l.hostIp, `/spec/listeners/${i}/hostIp`) };
  });
  if (!listeners.length) throw invalid('/spec/listeners', 'at least one listener is required');
  const members = (spec.members ?? []).map((m, i) => {
    if (!NAME_RE.test(m.instance)) throw invalid(`/spec/members/${i}/instance`, `'${m.instance}' is not an instance name`);
    return { instance: m.instance, port: checkPort(m.port, `/spec/members/${i}/port`) };
  });
  const h = spec.healthCheck ?? {} as Partial<LoadBalancerSpec['healthCheck']>;
  if (h.path !== undefined && !h.path.startsWith('/')) throw invalid('/spec/healthCheck/path', 'path must start with /');
  const healthCheck = {
    ...(h.path !== undefined ? { path: h.path } : {}),
    intervalMs: intIn(h.intervalMs, 2000, 100, 300_000, '/spec/healthCheck/intervalMs'),
    timeoutMs: intIn(h.timeoutMs, 1000, 50, 60_000, '/spec/healthCheck/timeoutMs'),
    healthyThreshold: intIn(h.healthyThreshold, 2, 1, 10, '/spec/healthCheck/healthyThreshold'),
    unhealthyThreshold: intIn(h.unhealthyThreshold, 2, 1, 10, '/spec/healthCheck/unhealthyThreshold'),
  };
  const rules = spec.rules?.map((r, i) => {
    if (r.pathPrefix !== undefined && !r.pathPrefix.startsWith('/')) throw invalid(`/spec/rules/${i}/pathPrefix`, 'pathPrefix must start with /');
    for (const m of r.members) if (!members.some((x) => x.instance === m)) throw invalid(`/spec/rules/${i}/members`, `'${m}' is not a member of this load balancer`);
    return { ...(r.host ? { host: r.host.toLowerCase() } : {}), ...(r.pathPrefix ? { pathPrefix: r.pathPrefix } : {}), members: r.members };
  });
  return { network, algorithm, listeners, members, healthCheck, ...(rules?.length ? { rules } : {}) };
}

async function claimListeners(r: { id: string; spec: LoadBalancerSpec }, c: ResourceCallContext, policy: HostPortPolicy): Promise<void> {
  await releaseHostPorts(c.q, r.id);
  for (const [i, l] of r.spec.listeners.entries()) await takeHostPort(c.q, policy, 'tcp', l.port, r.id, KIND.loadBalancer, `/spec/listeners/${i}/port`);
}

export function loadBalancerDef(identity: IdentityService, policy: HostPortPolicy): ResourceDef<LoadBalancerSpec, LoadBalancerStatus> {
  return {
    kind: KIND.loadBalancer, plural: 'load-balancers', service: 'network', idPrefix: 'lb', spec: LoadBalancerSpecSchema, deletion: 'immediate',
    prepare: (spec, c) => normalizeLb(spec, c),
    initialStatus: () => ({ state: 'pending' }),
    afterCreate: async (r, c) => {
      await claimListeners(r, c, policy);
      await identity.consumeQuota(c.q, r.project, { load_balancers: 1 });
    },
    beforeUpdate: async (prev, next, c) => {
      if (next.network !== prev.spec.network) throw invalid('/spec/network', 'network cannot change; create a new load balancer');
      await claimListeners({ id: prev.id, spec: next }, c, policy);
    },
    beforeDelete: async (r, c) => {
      await releaseHostPorts(c.q, r.id);
      await identity.consumeQuota(c.q, r.project, { load_balancers: -1 });
    },
  };
}

/** Networks with load balancers cannot be deleted (409). */
export async function guardNetworkLbs(n: NetworkResource, c: ResourceCallContext): Promise<void> {
  const lbs = (await c.resources.all<LoadBalancerSpec>(KIND.loadBalancer, n.project)).filter((l) => l.spec.network === n.name);
  if (lbs.length) throw new YunError('InvalidState', `network '${n.name}' is used by load balancer(s) ${lbs.map((l) => l.name).join(', ')}`);
}
