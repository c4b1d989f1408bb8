/**
 * Host network driver: the fallback that needs no root. Instances share the
 * host's network namespace; each port gets a host TCP port from a range
 * (`allocateHostPort`) for the workload to listen on, and published ports
 * are userspace TCP forwarders.
 *
 * What it cannot do — and its capabilities say so:
 * - NO isolation: every instance can reach every other and the host.
 * - Security groups are recorded but NOT enforced.
 * - No per-network DNS and no metadata address (169.254.169.254).
 * - The IPAM address of a port is recorded, not configured.
 * - Published UDP ports are refused (CapabilityMissing).
 * - VMs get no network interface (no tap, no bridge): `attach` with
 *   `nic: 'tap'` returns no `tap`, and the VM boots without a NIC.
 */
import { createServer } from 'node:net';
import { YunError, notFound } from '../../../core/errors.ts';
import { Pool } from '../../lb/pool.ts';
import { tcpProxy } from '../../lb/tcp.ts';
import type {
  AttachResult, AttachSpec, DesiredNetworkState, DnsRecord, NetworkDriver, NetworkDriverCapabilities,
  NetworkSpec, OwnedObjects, PublishSpec, SecurityRule,
} from '../types.ts';
import { publishClash, validateAttach, validateId, validateNetwork, validatePublish, validateRecords, validateRules } from '../validate.ts';

export interface HostDriverOptions {
  /** Inclusive range of host ports handed to instances. Default 20000-29999. */
  portRange?: [number, number];
}

/** Optional ability of drivers without per-instance addresses. */
export interface HostPortAllocator {
  /** A host port reserved for the port (stable while attached), free at the time of the call. */
  allocateHostPort(portId: string): Promise<number>;
}

type Proxy = ReturnType<typeof tcpProxy>;

export class HostNetworkDriver implements NetworkDriver, HostPortAllocator {
  readonly capabilities: NetworkDriverCapabilities = {
    kind: 'host',
    isolation: false,
    securityGroupsEnforced: false,
    dns: false,
    metadata: false,
    perInstanceAddress: false,
    notes: [
      'instances share the host network: no isolation between instances or networks',
      'security groups are recorded but not enforced',
      'no per-network DNS and no metadata address',
      'VMs get no network interface',
    ],
  };
  private readonly range: [number, number];
  private networks = new Map<string, Required<NetworkSpec>>();
  private ports = new Map<string, AttachSpec & { hostPort?: number; rules: SecurityRule[] }>();
  private published = new Map<string, { spec: PublishSpec; server: Proxy }>();
  private dns = new Map<string, DnsRecord[]>();

  constructor(opts: HostDriverOptions = {}) {
    const [lo, hi] = opts.portRange ?? [20000, 29999];
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1024 && hi <= 65535 && lo <= hi)) {
      throw new YunError('ValidationFailed', 'portRange must be [min, max] within 1024-65535', { field: 'portRange' });
    }
    this.range = [lo, hi];
  }

  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    const n = validateNetwork(spec);
    this.networks.set(n.id, n);
  }

  async deleteNetwork(id: string): Promise<void> {
    validateId(id, 'id');
    if ([...this.ports.values()].some((p) => p.networkId === id)) throw new YunError('InvalidState', `network ${id} still has attached ports`);
    this.networks.delete(id);
    this.dns.delete(id);
  }

  async attach(spec: AttachSpec): Promise<AttachResult> {
    const v = validateAttach(spec);
    if (!this.networks.has(v.networkId)) throw notFound('network', v.networkId);
    const old = this.ports.get(v.portId);
    this.ports.set(v.portId, { ...v, hostPort: old?.hostPort, rules: v.securityRules ?? [] });
    return { netnsPath: null, ifname: 'host', resolvConf: '' };
  }

  async detach(portId: string): Promise<void> {
    validateId(portId, 'portId');
    this.ports.delete(portId);
  }

  async allocateHostPort(portId: string): Promise<number> {
    const p = this.ports.get(portId);
    if (!p) throw notFound('port', portId);
    if (p.hostPort) return p.hostPort;
    const taken = new Set([...this.ports.values()].map((x) => x.hostPort).concat([...this.published.values()].map((x) => x.spec.hostPort)));
    for (let port = this.range[0]; port <= this.range[1]; port++) {
      if (taken.has(port) || !(await isFree(port))) continue;
      p.hostPort = port;
      return port;
    }
    throw new YunError('Conflict', `no free host port in ${this.range[0]}-${this.range[1]}`);
  }

  async applySecurityGroups(portId: string, rules: SecurityRule[]): Promise<void> {
    const valid = validateRules(rules);
    const p = this.ports.get(validateId(portId, 'portId'));
    if (!p) throw notFound('port', portId);
    p.rules = valid; // recorded only: see capabilities
  }

  async publishPort(spec: PublishSpec): Promise<void> {
    const v = validatePublish(spec);
    if (v.protocol !== 'tcp') throw new YunError('CapabilityMissing', 'the host network driver publishes tcp ports only', { field: 'protocol' });
    const cur = this.published.get(v.id);
    if (cur && JSON.stringify(cur.spec) === JSON.stringify(v)) return;
    const clash = [...this.published.values()].find((p) => p.spec.id !== v.id && publishClash(p.spec, v));
    if (clash) throw new YunError('Conflict', `${v.hostIp}:${v.hostPort} is already published by ${clash.spec.id}`, { field: 'hostPort' });
    if (cur) await this.unpublishPort(v.id);
    const pool = new Pool({ id: v.id, algorithm: 'round_robin', members: [{ id: v.id, host: v.targetIp, port: v.targetPort }] });
    const server = tcpProxy(() => pool);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(v.hostPort, v.hostIp, () => { server.off('error', reject); resolve(); });
    }).catch((e: Error) => {
      throw new YunError('Conflict', `cannot listen on ${v.hostIp}:${v.hostPort}: ${e.message}`, { field: 'hostPort', cause: e });
    });
    this.published.set(v.id, { spec: v, server });
  }

  async unpublishPort(id: string): Promise<void> {
    validateId(id, 'id');
    const p = this.published.get(id);
    if (!p) return;
    this.published.delete(id);
    p.server.closeAllConnections();
    await new Promise<void>((r) => p.server.close(() => r()));
  }

  async setDnsRecords(networkId: string, records: DnsRecord[]): Promise<void> {
    const valid = validateRecords(records);
    if (!this.networks.has(validateId(networkId, 'networkId'))) throw notFound('network', networkId);
    this.dns.set(networkId, valid);
  }

  async reconcile(desired: DesiredNetworkState): Promise<void> {
    const nets = desired.networks.map(validateNetwork);
    const ports = desired.ports.map(validateAttach);
    const pubs = desired.publishedPorts.map(validatePublish);
    this.networks = new Map(nets.map((n) => [n.id, n]));
    const old = this.ports;
    this.ports = new Map(ports.map((p) => [p.portId, { ...p, hostPort: old.get(p.portId)?.hostPort, rules: p.securityRules ?? [] }]));
    for (const id of [...this.published.keys()]) if (!pubs.some((p) => p.id === id)) await this.unpublishPort(id);
    for (const p of pubs) await this.publishPort(p);
    this.dns = new Map(Object.entries(desired.dnsRecords ?? {}).filter(([k]) => this.networks.has(k)).map(([k, v]) => [k, validateRecords(v)]));
  }

  async listOwned(): Promise<OwnedObjects> {
    return {
      networks: [...this.networks.keys()],
      ports: [...this.ports.keys()],
      publishedPorts: [...this.published.values()].filter((p) => p.server.listening).map((p) => p.spec.id),
      instances: [...new Set([...this.ports.values()].map((p) => p.instanceId))],
    };
  }

  async close(): Promise<void> {
    for (const id of [...this.published.keys()]) await this.unpublishPort(id);
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}
