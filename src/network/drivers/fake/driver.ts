/**
 * In-memory network driver for fast tests of the network service and
 * controllers. It keeps the same contract as the real drivers (validation,
 * idempotency, conflicts, InvalidState) and records every call, but creates
 * nothing on the host. Capabilities claim enforcement so that code paths for
 * a capable host are exercised; `calls` lets tests assert the actions taken.
 */
import { YunError, notFound } from '../../../core/errors.ts';
import type {
  AttachResult, AttachSpec, DesiredNetworkState, DnsRecord, InstanceIdentifier, NetworkDriver,
  NetworkDriverCapabilities, NetworkSpec, OwnedObjects, PublishSpec, SecurityRule,
} from '../types.ts';
import { publishClash, validateAttach, validateId, validateNetwork, validatePublish, validateRecords, validateRules } from '../validate.ts';

export class FakeNetworkDriver implements NetworkDriver, InstanceIdentifier {
  readonly capabilities: NetworkDriverCapabilities = {
    kind: 'fake', isolation: true, securityGroupsEnforced: true, dns: true, metadata: true, perInstanceAddress: true, notes: ['in-memory fake: nothing is created on the host'],
  };
  readonly calls: { op: string; arg: unknown }[] = [];
  networks = new Map<string, Required<NetworkSpec>>();
  ports = new Map<string, AttachSpec & { ifname: string; rules: SecurityRule[] }>();
  published = new Map<string, PublishSpec>();
  dns = new Map<string, DnsRecord[]>();

  private log(op: string, arg: unknown) {
    this.calls.push({ op, arg });
  }

  async ensureNetwork(spec: NetworkSpec) {
    const n = validateNetwork(spec);
    this.log('ensureNetwork', n);
    this.networks.set(n.id, n);
  }

  async deleteNetwork(id: string) {
    validateId(id, 'id');
    this.log('deleteNetwork', id);
    if ([...this.ports.values()].some((p) => p.networkId === id)) throw new YunError('InvalidState', `network ${id} still has attached ports`);
    this.networks.delete(id);
    this.dns.delete(id);
  }

  async attach(spec: AttachSpec): Promise<AttachResult> {
    const v = validateAttach(spec);
    this.log('attach', v);
    const net = this.networks.get(v.networkId);
    if (!net) throw notFound('network', v.networkId);
    const clash = [...this.ports.values()].find((p) => p.ip === v.ip && p.portId !== v.portId);
    if (clash) throw new YunError('Conflict', `ip ${v.ip} is already used by port ${clash.portId}`, { field: 'ip' });
    const old = this.ports.get(v.portId);
    const used = new Set([...this.ports.values()].filter((p) => p.instanceId === v.instanceId && p.portId !== v.portId).map((p) => p.ifname));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ifname = old && old.instanceId === v.instanceId ? old.ifname : `eth${i}`;
    this.ports.set(v.portId, { ...v, ifname, rules: v.securityRules ?? [] });
    const resolvConf = `nameserver ${net.gateway}\nsearch ${net.dnsDomain}\n`;
    if (v.nic === 'tap') return { netnsPath: null, ifname, resolvConf, tap: { ifname: `fake-tap-${v.portId}`, mac: v.mac ?? '02:00:00:00:00:01' } };
    return { netnsPath: `/fake/netns/${v.instanceId}`, ifname, resolvConf };
  }

  async detach(portId: string) {
    validateId(portId, 'portId');
    this.log('detach', portId);
    this.ports.delete(portId);
  }

  async applySecurityGroups(portId: string, rules: SecurityRule[]) {
    const valid = validateRules(rules);
    this.log('applySecurityGroups', { portId, rules: valid });
    const p = this.ports.get(validateId(portId, 'portId'));
    if (!p) throw notFound('port', portId);
    p.rules = valid;
  }

  async publishPort(spec: PublishSpec) {
    const v = validatePublish(spec);
    this.log('publishPort', v);
    const clash = [...this.published.values()].find((p) => p.id !== v.id && publishClash(p, v));
    if (clash) throw new YunError('Conflict', `${v.hostIp}:${v.hostPort} is already published by ${clash.id}`, { field: 'hostPort' });
    this.published.set(v.id, v);
  }

  async unpublishPort(id: string) {
    validateId(id, 'id');
    this.log('unpublishPort', id);
    this.published.delete(id);
  }

  async setDnsRecords(networkId: string, records: DnsRecord[]) {
    const valid = validateRecords(records);
    this.log('setDnsRecords', { networkId, records: valid });
    if (!this.networks.has(validateId(networkId, 'networkId'))) throw notFound('network', networkId);
    this.dns.set(networkId, valid);
  }

  async reconcile(desired: DesiredNetworkState) {
    this.log('reconcile', desired);
    const fresh = new FakeNetworkDriver();
    for (const n of desired.networks) await fresh.ensureNetwork(n);
    for (const p of desired.ports) await fresh.attach(p);
    for (const p of desired.publishedPorts) await fresh.publishPort(p);
    for (const [k, v] of Object.entries(desired.dnsRecords ?? {})) if (fresh.networks.has(k)) await fresh.setDnsRecords(k, v);
    this.networks = fresh.networks;
    this.ports = fresh.ports;
    this.published = fresh.published;
    this.dns = fresh.dns;
  }

  async listOwned(): Promise<OwnedObjects> {
    return {
      networks: [...this.networks.keys()],
      ports: [...this.ports.keys()],
      publishedPorts: [...this.published.keys()],
      instances: [...new Set([...this.ports.values()].map((p) => p.instanceId))],
    };
  }

  identifyInstance(sourceIp: string) {
    const p = [...this.ports.values()].find((x) => x.ip === sourceIp);
    return p ? { instanceId: p.instanceId, portId: p.portId, networkId: p.networkId } : undefined;
  }

  async close() {}
}
