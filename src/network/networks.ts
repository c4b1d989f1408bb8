/**
 * Networks: one IPv4 subnet each (so `yun subnet` shows the same objects
 * from the addressing side). CIDRs never overlap within a project; since all
 * networks of a host share one kernel, a CIDR used by another project on this
 * host is refused too (409, without naming the other project).
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { YunError, invalid } from '../core/errors.ts';
import type { Resource } from '../core/resource.ts';
import type { ResourceCallContext, ResourceDef } from '../api/resources.ts';
import type { IdentityService } from '../identity/service.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { type Cidr, contains, formatIpv4, gatewayOf, overlaps, parseCidr, parseIpv4, parseSubnet, broadcastOf } from './ipam.ts';
import { countPorts } from './ports.ts';
import { KIND, type NetworkResourceSpec, type NetworkResourceStatus, NetworkSpecSchema } from './types.ts';

export type NetworkResource = Resource<NetworkResourceSpec, NetworkResourceStatus>;

/** Where networks without a CIDR get theirs: /24s carved from this range. */
export const AUTO_RANGE = '10.208.0.0/12';
export const DEFAULT_NETWORK = 'default';

export const dnsDomainOf = (networkName: string) => `${networkName}.internal`;

async function othersOnHost(q: Sql, selfId?: string): Promise<NetworkResource[]> {
  return (await new Resources(q).all<NetworkResourceSpec, NetworkResourceStatus>(KIND.network)).filter((n) => n.id !== selfId);
}

/**
 * IPv4 networks the host already routes (an auto-chosen CIDR must not shadow
 * them): the kernel's main table from /proc/net/route — it also lists links
 * without carrier, which os.networkInterfaces() leaves out — plus interface
 * addresses. A quick synchronous read, safe inside a transaction.
 */
function hostNetworks(): Cidr[] {
  const out: Cidr[] = [];
  const le = (hex: string) => {
    const n = Number.parseInt(hex, 16);
    return ((n & 255) << 24 | ((n >>> 8) & 255) << 16 | ((n >>> 16) & 255) << 8 | ((n >>> 24) & 255)) >>> 0;
  };
  let table = '';
  try { table = readFileSync('/proc/net/route', 'utf8'); } catch { /* not Linux: interfaces only */ }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] === '00000000') continue;
    const mask = le(f[7]!);
    const prefix = 32 - Math.log2((~mask >>> 0) + 1);
    if (Number.isInteger(prefix) && prefix > 0) out.push({ network: (le(f[1]!) & mask) >>> 0, prefix, text: `${formatIpv4(le(f[1]!))}/${prefix}` });
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || !a.cidr || a.internal) continue;
      try { out.push(parseCidr(a.cidr, 'cidr', { strict: false })); } catch { /* not a usable CIDR: ignore */ }
    }
  }
  return out;
}

/** Lowest /24 of AUTO_RANGE that overlaps no network of yun or of the host's interfaces. */
export async function pickCidr(q: Sql): Promise<string> {
  const range = parseCidr(AUTO_RANGE);
  const taken = [...(await othersOnHost(q)).map((n) => parseCidr(n.spec.cidr, 'cidr', { strict: false })), ...hostNetworks()];
  for (let net = range.network; net < broadcastOf(range); net += 256) {
    const c: Cidr = { network: net >>> 0, prefix: 24, text: `${formatIpv4(net)}/24` };
    if (!taken.some((t) => overlaps(c, t))) return c.text;
  }
  throw new YunError('Conflict', `no free /24 left in ${AUTO_RANGE}; give --cidr`, { field: '/spec/cidr' });
}

/** Validates and fills a network spec (defaults, overlap checks). */
export async function normalizeNetwork(input: Partial<NetworkResourceSpec>, q: Sql, project: string, prev?: NetworkResource): Promise<NetworkResourceSpec> {
  if (prev) {
    if (input.cidr !== undefined && input.cidr !== prev.spec.cidr) throw invalid('/spec/cidr', 'cidr cannot change; create a new network');
    if (input.gateway !== undefined && input.gateway !== prev.spec.gateway) throw invalid('/spec/gateway', 'gateway cannot change; create a new network');
    return { ...prev.spec, mtu: checkMtu(input.mtu ?? prev.spec.mtu), nat: input.nat ?? prev.spec.nat };
  }
  const cidrText = input.cidr ?? await pickCidr(q);
  const cidr = parseSubnet(cidrText, '/spec/cidr');
  for (const o of await othersOnHost(q)) {
    const oc = parseCidr(o.spec.cidr, 'cidr', { strict: false });
    if (!overlaps(cidr, oc)) continue;
    if (o.project === project) throw invalid('/spec/cidr', `${cidr.text} overlaps network '${o.name}' (${o.spec.cidr})`);
    throw new YunError('Conflict', `${cidr.text} overlaps a network of another project on this host`, { field: '/spec/cidr' });
  }
  const routed = hostNetworks().find((h) => overlaps(cidr, h));
  if (routed) throw new YunError('Conflict', `${cidr.text} overlaps ${routed.text}, which this host already routes`, { field: '/spec/cidr' });
  let gateway = gatewayOf(cidr);
  if (input.gateway !== undefined) {
    const g = parseIpv4(input.gateway);
    if (g === undefined) throw invalid('/spec/gateway', `'${input.gateway}' is not an IPv4 address`);
    if (!contains(cidr, g) || g === cidr.network || g === broadcastOf(cidr)) throw invalid('/spec/gateway', `${input.gateway} is not a usable address of ${cidr.text}`);
    gateway = formatIpv4(g);
  }
  return { cidr: cidr.text, gateway, mtu: checkMtu(input.mtu ?? 1500), nat: input.nat ?? false };
}

function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw invalid('/spec/mtu', 'mtu must be an integer 576-9000');
  return mtu;
}

export function networkDef(identity: IdentityService, extraDeleteGuard?: (r: NetworkResource, c: ResourceCallContext) => Promise<void>): ResourceDef<NetworkResourceSpec, NetworkResourceStatus> {
  return {
    kind: KIND.network, plural: 'networks', service: 'network', idPrefix: 'net', spec: NetworkSpecSchema, deletion: 'immediate',
    prepare: (spec, c, prev) => normalizeNetwork(spec, c.q, c.scope.project.id, prev),
    initialStatus: () => ({ state: 'pending' }),
    afterCreate: async (r, c) => { await identity.consumeQuota(c.q, r.project, { networks: 1 }); },
    beforeDelete: async (r, c) => {
      const n = await countPorts(c.q, r.id);
      if (n > 0) throw new YunError('InvalidState', `network '${r.name}' has ${n} attached instance(s); delete them first`, { details: { ports: n } });
      await extraDeleteGuard?.(r, c);
      await identity.consumeQuota(c.q, r.project, { networks: -1 });
    },
  };
}

/** The project's `default` network, created on first use. Runs inside the caller's transaction. */
export async function ensureDefaultNetwork(q: Sql, identity: IdentityService, project: string): Promise<NetworkResource> {
  const res = new Resources(q);
  const cur = await res.get<NetworkResourceSpec, NetworkResourceStatus>(KIND.network, project, DEFAULT_NETWORK);
  if (cur) return cur;
  const spec = await normalizeNetwork({}, q, project);
  const r = await res.create<NetworkResourceSpec, NetworkResourceStatus>({ kind: KIND.network, project, name: DEFAULT_NETWORK, spec, status: { state: 'pending' }, idPrefix: 'net' });
  await identity.consumeQuota(q, project, { networks: 1 });
  return r;
}
