/**
 * The network service's side of the compute seam (see
 * ../compute/networking.ts): gives an instance its NICs before first start
 * and takes them back after delete.
 *
 * prepare: allocates one address per requested network in the store (the
 * `net_ports` unique key makes it atomic; `backend:10.20.0.5` asks for a
 * static address), creates the project's `default` network and security
 * group on first use, attaches through the driver with the flattened rules,
 * and returns the namespace, the addresses and /etc/resolv.conf + /etc/hosts.
 * DNS names `<instance>.<network>.internal` are served by the driver.
 * release: removes the NICs from the kernel and the store (address reclaimed).
 */
import type { InstanceNetworking, NetworkedInstance, PreparedNetwork, VmNic } from '../compute/networking.ts';
import { YunError, invalid, notFound } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import type { IdentityService } from '../identity/service.ts';
import { Resources } from '../store/resources.ts';
import type { Sql, StateStore } from '../store/types.ts';
import type { NetworkController } from './controller.ts';
import { dnsNameOf } from './desired.ts';
import { resolvConf } from './dns/server.ts';
import { allocateNext, parseCidr, validateStatic } from './ipam.ts';
import { DEFAULT_NETWORK, type NetworkResource, ensureDefaultNetwork } from './networks.ts';
import { type Port, deletePortsOfInstance, insertPort, portByIp, portIdOf, portsOfInstance, portsOfNetwork, setInstancePortGroups } from './ports.ts';
import { DEFAULT_GROUP, ensureDefaultGroup } from './security-groups.ts';
import { KIND, type NetworkResourceSpec, type NetworkResourceStatus } from './types.ts';

export interface InstanceIdentity {
  instanceId: string;
  instanceName: string;
  project: string;
  network: string;
  ip: string;
}

/**
 * Checks an instance's `networks` / `securityGroups` at create time (inside
 * compute's create transaction `q`), so mistakes answer 400/404 naming the
 * field instead of failing later in the controller: networks must exist in
 * the project (`default` is created on first use), a static address
 * (`backend:10.20.0.5`) must be a free usable address of the subnet, groups
 * must exist (`default` likewise).
 */
export async function validateInstanceNetworking(q: Sql, project: string, networks: string[] | undefined, securityGroups: string[] | undefined): Promise<void> {
  const res = new Resources(q);
  for (const [i, g] of (securityGroups ?? []).entries()) {
    if (g !== DEFAULT_GROUP && !(await res.get(KIND.securityGroup, project, g))) {
      throw new YunError('NotFound', `security group '${g}' not found`, { field: `/spec/securityGroups/${i}`, details: { kind: KIND.securityGroup, name: g } });
    }
  }
  const seen = new Set<string>();
  for (const [i, entry] of (networks ?? []).entries()) {
    const field = `/spec/networks/${i}`;
    const [name, staticIp, extra] = entry.split(':');
    if (!name || extra !== undefined || !NAME_RE.test(name)) throw invalid(field, `'${entry}' must be a network name, optionally with ':<ip>'`);
    if (seen.has(name)) throw invalid(field, `network '${name}' is listed twice`);
    seen.add(name);
    const net = await res.get<NetworkResourceSpec, NetworkResourceStatus>(KIND.network, project, name);
    if (!net) {
      if (name === DEFAULT_NETWORK && staticIp === undefined) continue;
      throw Object.assign(notFound(KIND.network, name), { field });
    }
    if (staticIp !== undefined) {
      const used = (await portsOfNetwork(q, net.id)).map((p) => p.ip);
      validateStatic(parseCidr(net.spec.cidr, field), staticIp, used, net.spec.gateway, field);
    }
  }
}

export class ServiceInstanceNetworking implements InstanceNetworking {
  readonly name: string;

  constructor(private readonly store: StateStore, private readonly identity: IdentityService, private readonly ctl: NetworkController) {
    this.name = ctl.driver.capabilities.kind;
  }

  async prepare(inst: NetworkedInstance): Promise<PreparedNetwork> {
    return this.ctl.exec(async () => {
      let ports = await portsOfInstance(this.store, inst.id);
      const fresh = ports.length === 0;
      if (fresh) ports = await this.store.tx((q) => this.allocate(q, inst));
      try {
        return await this.wire(inst, ports);
      } catch (e) {
        if (fresh) await this.unwire(inst.id).catch(() => undefined);
        throw e;
      }
    }).finally(() => this.ctl.requestSync());
  }

  async release(inst: NetworkedInstance): Promise<void> {
    await this.ctl.exec(() => this.unwire(inst.id));
    this.ctl.requestSync();
  }

  /** Which instance owns a source address (for the metadata service). */
  async identify(sourceIp: string): Promise<InstanceIdentity | undefined> {
    const p = await portByIp(this.store, sourceIp);
    if (!p) return undefined;
    const net = await new Resources(this.store).getById(p.networkId);
    return { instanceId: p.instanceId, instanceName: p.instanceName, project: p.project, network: net?.name ?? p.networkId, ip: p.ip };
  }

  /**
   * Moves an instance's ports to other security groups inside the instance
   * update transaction `q` (404 naming the field for a missing group). The
   * controller sees the instance's new generation and applies the rules to
   * the running workload; nothing restarts.
   */
  async setSecurityGroups(q: Sql, project: string, instanceId: string, securityGroups: string[] | undefined): Promise<void> {
    await setInstancePortGroups(q, instanceId, await this.groupsOf(q, project, securityGroups));
  }

  /** The groups ports get (`default` when none are named), each checked to exist; `default` is made on first use. */
  private async groupsOf(q: Sql, project: string, securityGroups: string[] | undefined): Promise<string[]> {
    const groups = securityGroups?.length ? [...new Set(securityGroups)] : [DEFAULT_GROUP];
    await validateInstanceNetworking(q, project, undefined, groups);
    if (groups.includes(DEFAULT_GROUP)) await ensureDefaultGroup(q, this.identity, project);
    return groups;
  }

  private async allocate(q: Parameters<Parameters<StateStore['tx']>[0]>[0], inst: NetworkedInstance): Promise<Port[]> {
    const res = new Resources(q);
    const wanted = inst.networks?.length ? inst.networks : [DEFAULT_NETWORK];
    const groups = await this.groupsOf(q, inst.project, inst.securityGroups);
    const out: Port[] = [];
    const seen = new Set<string>();
    for (const [i, entry] of wanted.entries()) {
      const field = `/spec/networks/${i}`;
      const [name, staticIp] = entry.split(':') as [string, string | undefined];
      const net: NetworkResource | undefined = name === DEFAULT_NETWORK
        ? await ensureDefaultNetwork(q, this.identity, inst.project)
        : await res.get<NetworkResourceSpec, NetworkResourceStatus>(KIND.network, inst.project, name);
      if (!net) throw Object.assign(notFound(KIND.network, name), { field });
      if (net.deletionTimestamp) throw new YunError('InvalidState', `network '${name}' is being deleted`, { field });
      if (seen.has(net.id)) throw invalid(field, `network '${name}' is listed twice`);
      seen.add(net.id);
      const cidr = parseCidr(net.spec.cidr, field);
      const used = (await portsOfNetwork(q, net.id)).map((p) => p.ip);
      const ip = staticIp !== undefined ? validateStatic(cidr, staticIp, used, net.spec.gateway, field) : allocateNext(cidr, used, net.spec.gateway);
      const port: Port = {
        portId: portIdOf(inst.id, net.id), networkId: net.id, project: inst.project, instanceId: inst.id, instanceName: inst.name,
        ip, securityGroups: groups, dnsName: dnsNameOf(inst.name, net.name), nic: i, kind: inst.nicKind ?? 'veth', createdAt: new Date().toISOString(),
      };
      await insertPort(q, port);
      out.push(port);
    }
    return out;
  }

  /** Makes the ports real on the host; returns what the workload needs. */
  private async wire(inst: NetworkedInstance, ports: Port[]): Promise<PreparedNetwork> {
    const drv = this.ctl.driver;
    const d = await this.ctl.desired();
    const shared = !drv.capabilities.perInstanceAddress;
    let netnsPath: string | undefined;
    let resolv: string | undefined;
    const addresses: PreparedNetwork['addresses'] = [];
    const nics: VmNic[] = [];
    for (const p of ports) {
      const net = d.networks.get(p.networkId);
      const spec = d.ports.get(p.portId)?.spec;
      if (!net || !spec) throw new YunError('Conflict', `network of port ${p.ip} vanished during setup`);
      if (!this.ctl.isNetworkApplied(p.networkId)) {
        await drv.ensureNetwork(net.spec);
        this.ctl.noteNetwork(p.networkId, net.spec);
      }
      const r = await drv.attach(spec);
      this.ctl.noteAttached(p.portId, spec);
      netnsPath ??= r.netnsPath ?? undefined;
      resolv ??= r.resolvConf;
      if (r.tap) {
        nics.push({ tap: r.tap.ifname, mac: r.tap.mac, ip: p.ip, prefix: parseCidr(net.spec.cidr).prefix, gateway: net.spec.gateway, searchDomain: net.spec.dnsDomain });
      }
      addresses.push({ network: net.resource.name, ip: shared ? '127.0.0.1' : p.ip });
    }
    const first = ports[0];
    const firstNet = first ? d.networks.get(first.networkId) : undefined;
    resolv ??= firstNet ? resolvConf(firstNet.spec.gateway, firstNet.spec.dnsDomain!) : undefined;
    const hosts = ['127.0.0.1\tlocalhost', ...ports.map((p) => `${p.ip}\t${p.dnsName ?? ''} ${inst.hostname}`.trim())].join('\n');
    return {
      ...(netnsPath ? { netnsPath } : {}),
      ...(nics.length ? { nics } : {}),
      addresses,
      files: [
        ...(resolv ? [{ path: '/etc/resolv.conf', content: resolv }] : []),
        { path: '/etc/hosts', content: `${hosts}\n` },
      ],
    };
  }

  private async unwire(instanceId: string): Promise<void> {
    const ports = await portsOfInstance(this.store, instanceId);
    for (const p of ports) {
      await this.ctl.driver.detach(p.portId);
      this.ctl.noteDetached(p.portId);
    }
    await this.store.tx((q) => deletePortsOfInstance(q, instanceId));
  }
}
