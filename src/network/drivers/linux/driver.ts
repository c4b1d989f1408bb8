/**
 * Linux network driver: one bridge per network (the gateway address lives on
 * the bridge), one network namespace per instance, one veth pair per NIC
 * (a VM's NIC is instead a persistent tap device on the bridge, opened by
 * QEMU; it outlives QEMU restarts and adoption), and
 * nftables tables owned by yun (`inet <prefix>` filter, `ip <prefix>_nat`,
 * `bridge <prefix>` anti-spoofing). DNS is served in-process per network.
 *
 * What it cannot do:
 * - IPv4 only; IPv6 is dropped at the instance ports.
 * - Networks on one host must not overlap (the source address identifies the
 *   instance for security groups and metadata).
 * - Security groups need br_netfilter with bridge-nf-call-iptables=1 (set by
 *   the driver; a host-wide setting). Without it capabilities say so.
 * - Published ports are reachable from the host and from outside; instances
 *   of other networks cannot use them (isolation wins).
 * - A hairpin source behind a published port from 127.0.0.1 appears as the
 *   network gateway, so `remoteCidr` cannot tell loopback clients apart.
 */
import { join } from 'node:path';
import { YunError, notFound } from '../../../core/errors.ts';
import { overlaps, parseCidr, parseIpv4 } from '../../ipam.ts';
import { DnsServer, resolvConf } from '../../dns/server.ts';
import type {
  AttachResult, AttachSpec, DataOutCounter, DesiredNetworkState, DnsRecord, InstanceIdentifier, NetworkDriver,
  NetworkDriverCapabilities, NetworkSpec, OwnedObjects, PublishSpec, SecurityRule,
} from '../types.ts';
import { publishClash, validateAttach, validateId, validateNetwork, validatePublish, validateRecords, validateRules } from '../validate.ts';
import { type Runner, run as defaultRun } from './exec.ts';
import { Kernel, portIsFree } from './kernel.ts';
import { Names } from './names.ts';
import { checkOverlap, checkPortAddress, freeIfname, planState } from './plan.ts';
import { fullRuleset, portRuleset, type RulesetOptions } from './ruleset.ts';
import { type DriverState, type PortState, emptyState, loadState, saveState } from './state.ts';

export interface LinuxDriverOptions {
  /** Owner prefix of every kernel object, 2-5 chars. Default `yun`. */
  prefix?: string;
  /** Where the driver mirrors its model. Default `/run/yun/network`. */
  stateDir?: string;
  /** Target of 169.254.169.254:80 (a host address where yun's metadata server listens). */
  metadata?: { host: string; port: number };
  /** Port of the per-network DNS responders. Default 53. */
  dnsPort?: number;
  run?: Runner;
}

type Net = Required<NetworkSpec>;

export interface LinuxProbe {
  ok: boolean;
  reasons: string[];
  brNetfilter: boolean;
}

export class LinuxNetworkDriver implements NetworkDriver, InstanceIdentifier, DataOutCounter {
  readonly capabilities: NetworkDriverCapabilities;
  private readonly names: Names;
  private readonly kernel: Kernel;
  private readonly run: Runner;
  private readonly stateFile: string;
  private readonly ruleOpts: RulesetOptions;
  private readonly dns = new Map<string, DnsServer>();
  private state: DriverState = emptyState();
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Last value read per published port's counter (by published-port id; a
   * port unpublished since the last rebuild stays until the next one reads
   * its last bytes), and bytes counted but not yet taken.
   */
  private counterSeen = new Map<string, number>();
  private dataOut: Record<string, number> = {};

  private constructor(opts: LinuxDriverOptions, probe: LinuxProbe) {
    this.names = new Names(opts.prefix ?? 'yun');
    this.run = opts.run ?? defaultRun;
    this.kernel = new Kernel(this.run);
    this.stateFile = join(opts.stateDir ?? '/run/yun/network', `${this.names.prefix}-linux.json`);
    if (opts.metadata) {
      if (parseIpv4(opts.metadata.host) === undefined || !Number.isInteger(opts.metadata.port) || opts.metadata.port < 1 || opts.metadata.port > 65535) {
        throw new YunError('ValidationFailed', 'metadata must be {host: IPv4, port: 1-65535}', { field: 'metadata' });
      }
    }
    this.ruleOpts = { metadata: opts.metadata, dnsPort: opts.dnsPort ?? 53 };
    const notes: string[] = [];
    if (!probe.brNetfilter) notes.push('br_netfilter is unavailable: security groups are not enforced between instances of one network');
    if (!opts.metadata) notes.push('no metadata target configured');
    this.capabilities = {
      kind: 'linux', isolation: true, securityGroupsEnforced: probe.brNetfilter, dns: true,
      metadata: !!opts.metadata, perInstanceAddress: true, notes,
    };
  }

  /** Checks root, iproute2, nftables and br_netfilter (enabling it when possible). */
  static async probe(run: Runner = defaultRun): Promise<LinuxProbe> {
    const reasons: string[] = [];
    if (process.getuid?.() !== 0) reasons.push('not running as root');
    for (const [cmd, args] of [['ip', ['-V']], ['nft', ['--version']]] as const) {
      const r = await run(cmd, [...args], { allowFail: true }).catch(() => undefined);
      if (r?.code !== 0) reasons.push(`${cmd} is not installed`);
    }
    let brNetfilter = false;
    if (reasons.length === 0) {
      const k = new Kernel(run);
      brNetfilter = await k.trySysctl('net/bridge/bridge-nf-call-iptables', '1');
      if (!brNetfilter) {
        await run('modprobe', ['br_netfilter'], { allowFail: true }).catch(() => undefined);
        brNetfilter = await k.trySysctl('net/bridge/bridge-nf-call-iptables', '1');
      }
    }
    return { ok: reasons.length === 0, reasons, brNetfilter };
  }

  /**
   * Opens the driver: probes the host (CapabilityMissing when unusable) and
   * loads the last saved model. Kernel objects are not changed until the first
   * operation; call reconcile() at start to converge.
   */
  static async open(opts: LinuxDriverOptions = {}): Promise<LinuxNetworkDriver> {
    const probe = await LinuxNetworkDriver.probe(opts.run);
    if (!probe.ok) throw new YunError('CapabilityMissing', `linux network driver unusable: ${probe.reasons.join('; ')}`, { details: { reasons: probe.reasons } });
    const d = new LinuxNetworkDriver(opts, probe);
    d.state = await loadState(d.stateFile);
    // Counts made before this driver was opened were (or are lost to) the previous one: baseline them.
    const kernel = await d.readCounters();
    for (const id of Object.keys(d.state.published)) d.counterSeen.set(id, kernel.get(d.names.pubCounter(id)) ?? 0);
    for (const net of Object.values(d.state.networks)) await d.syncDns(net).catch(() => undefined);
    return d;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private save() {
    return saveState(this.stateFile, this.state);
  }

  /** Replaces the owned tables; their published-port counters restart at 0, so they are harvested first. */
  private async applyFull(): Promise<void> {
    await this.harvest();
    await this.run('nft', ['-f', '-'], { input: fullRuleset(this.state, this.names, this.ruleOpts) });
    this.counterSeen = new Map(Object.keys(this.state.published).map((id) => [id, 0]));
  }

  // ---- data out of published ports (DataOutCounter) ----

  /** Kernel values of the owned named counters (bytes by counter name). */
  private async readCounters(): Promise<Map<string, number>> {
    const r = await this.run('nft', ['-j', 'list', 'counters', 'table', 'inet', this.names.filterTable], { allowFail: true });
    const out = new Map<string, number>();
    if (r.code !== 0) return out;
    for (const item of (JSON.parse(r.stdout) as { nftables: Array<{ counter?: { name: string; bytes: number } }> }).nftables) {
      if (item.counter) out.set(item.counter.name, Number(item.counter.bytes));
    }
    return out;
  }

  /** Moves what the counters gained since they were last read into `dataOut`. */
  private async harvest(): Promise<void> {
    if (this.counterSeen.size === 0) return;
    const now = await this.readCounters();
    for (const [id, prev] of this.counterSeen) {
      const cur = now.get(this.names.pubCounter(id));
      if (cur === undefined) continue;
      const delta = cur >= prev ? cur - prev : cur;
      if (delta > 0) this.dataOut[id] = (this.dataOut[id] ?? 0) + delta;
      this.counterSeen.set(id, cur);
    }
  }

  takeDataOut(): Promise<Record<string, number>> {
    return this.serial(async () => {
      await this.harvest();
      const out = this.dataOut;
      this.dataOut = {};
      return out;
    });
  }

  // ---- networks ----

  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    const net = validateNetwork(spec);
    return this.serial(async () => {
      checkOverlap(net, Object.values(this.state.networks));
      const known = !!this.state.networks[net.id];
      try {
        await this.kernelNetwork(net);
      } catch (e) {
        if (!known) await this.kernel.deleteLink(this.names.bridge(net.id)); // leave nothing half-made
        throw e;
      }
      this.state.networks[net.id] = net;
      await this.save();
      await this.applyFull();
      await this.syncDns(net);
    });
  }

  private async kernelNetwork(net: Net): Promise<void> {
    const b = this.names.bridge(net.id);
    // Never shadow an address the host already uses (its uplink, another tool's bridge).
    const c = parseCidr(net.cidr);
    for (const a of await this.kernel.hostAddrs()) {
      if (a.dev !== b && a.dev !== 'lo' && overlaps(c, parseCidr(a.cidr, 'cidr', { strict: false }))) {
        throw new YunError('Conflict', `network ${net.id} (${net.cidr}) overlaps host address ${a.cidr} on ${a.dev}`, { field: 'cidr' });
      }
    }
    if (!(await this.kernel.linkExists(b))) await this.kernel.ip(['link', 'add', 'name', b, 'type', 'bridge']);
    await this.kernel.ip(['link', 'set', 'dev', b, 'mtu', String(net.mtu), 'alias', `yun:net:${net.id}`]);
    const want = `${net.gateway}/${parseCidr(net.cidr).prefix}`;
    const have = await this.kernel.addrs(b);
    for (const a of have) if (a !== want) await this.kernel.ip(['addr', 'del', a, 'dev', b]);
    if (!have.includes(want)) await this.kernel.ip(['addr', 'add', want, 'dev', b]);
    // 127.0.0.1 ↔ bridge DNAT (published ports from loopback, metadata to a loopback server).
    await this.kernel.sysctl(`net/ipv4/conf/${b}/route_localnet`, '1');
    await this.kernel.trySysctl(`net/ipv6/conf/${b}/disable_ipv6`, '1');
    await this.kernel.ip(['link', 'set', 'dev', b, 'up']);
    if (net.nat) await this.kernel.sysctl('net/ipv4/ip_forward', '1');
  }

  async deleteNetwork(id: string): Promise<void> {
    validateId(id, 'id');
    return this.serial(async () => {
      const inUse = Object.values(this.state.ports).filter((p) => p.networkId === id);
      if (inUse.length > 0) throw new YunError('InvalidState', `network ${id} still has ${inUse.length} attached port(s)`);
      await this.stopDns(id);
      delete this.state.networks[id];
      delete this.state.dns[id];
      await this.save();
      await this.applyFull();
      await this.kernel.deleteLink(this.names.bridge(id));
    });
  }

  // ---- ports ----

  async attach(spec: AttachSpec): Promise<AttachResult> {
    const v = validateAttach(spec);
    return this.serial(async () => {
      const net = this.state.networks[v.networkId];
      if (!net) throw notFound('network', v.networkId);
      checkPortAddress(net, v.portId, v.ip, Object.values(this.state.ports));
      const old = this.state.ports[v.portId];
      const sameInstance = old && old.instanceId === v.instanceId;
      const port: PortState = {
        networkId: v.networkId, portId: v.portId, instanceId: v.instanceId, ip: v.ip,
        mac: v.mac ?? this.names.mac(v.portId), dnsName: v.dnsName,
        ifname: sameInstance ? old.ifname : freeIfname(v.instanceId, Object.values(this.state.ports)),
        rules: spec.securityRules === undefined && old ? old.rules : v.securityRules ?? [], nic: v.nic,
      };
      if (old && (!sameInstance || (old.nic ?? 'veth') !== v.nic)) {
        await this.kernelDetach(old, Object.values(this.state.ports));
        delete this.state.ports[old.portId];
      }
      try {
        await this.kernelAttach(port, net);
      } catch (e) {
        if (!old || !sameInstance) await this.kernelDetach(port, Object.values(this.state.ports)); // leave nothing half-made
        throw e;
      }
      this.state.ports[port.portId] = port;
      await this.save();
      await this.applyFull();
      await this.syncDns(net);
      return this.attachResult(port, net);
    });
  }

  private attachResult(port: PortState, net: Net): AttachResult {
    const resolv = resolvConf(net.gateway, net.dnsDomain);
    if (port.nic === 'tap') return { netnsPath: null, ifname: port.ifname, resolvConf: resolv, tap: { ifname: this.names.hostVeth(port.portId), mac: port.mac } };
    return { netnsPath: this.kernel.netnsPath(this.names.netns(port.instanceId)), ifname: port.ifname, resolvConf: resolv };
  }

  /**
   * A VM NIC: a persistent tap (it survives the QEMU that opens it, so a
   * restarted or adopted VM keeps its link) enslaved to the bridge under the
   * host-side name a veth would have, so every rule keyed on that name
   * (anti-spoofing) applies unchanged. A tap already there is never
   * recreated: a running QEMU holds it open.
   */
  private async kernelAttachTap(port: PortState, net: Net): Promise<void> {
    const k = this.kernel;
    const hv = this.names.hostVeth(port.portId);
    const host = (await k.links()).find((l) => l.ifname === hv);
    if (host && host.kind !== 'tun') await k.deleteLink(hv);
    if (!host || host.kind !== 'tun') {
      await k.ip(['tuntap', 'add', 'dev', hv, 'mode', 'tap', 'vnet_hdr']);
      await k.trySysctl(`net/ipv6/conf/${hv}/disable_ipv6`, '1');
    }
    await k.ip(['link', 'set', 'dev', hv, 'mtu', String(net.mtu), 'master', this.names.bridge(net.id), 'alias', `yun:port:${port.portId}`, 'up']);
  }

  private async kernelAttach(port: PortState, net: Net): Promise<void> {
    if (port.nic === 'tap') return this.kernelAttachTap(port, net);
    const k = this.kernel;
    const ns = this.names.netns(port.instanceId);
    const hv = this.names.hostVeth(port.portId);
    const b = this.names.bridge(net.id);
    const addr = `${port.ip}/${parseCidr(net.cidr).prefix}`;
    await k.ensureNetns(ns);
    const links = await k.links();
    const host = links.find((l) => l.ifname === hv);
    const inner = host ? (await k.links(ns)).find((l) => l.ifname === port.ifname) : undefined;
    const intact = host && inner && host.master === b && host.mtu === net.mtu && inner.address === port.mac && (await k.addrs(port.ifname, ns)).join() === addr;
    if (!intact) {
      await k.deleteLink(hv);
      await k.deleteLink(this.names.tmpPeer(port.portId));
      if (await k.linkExists(port.ifname, ns)) await k.ip(['-n', ns, 'link', 'del', 'dev', port.ifname]);
      const tmp = this.names.tmpPeer(port.portId);
      const mtu = String(net.mtu);
      await k.ip(['link', 'add', 'name', hv, 'mtu', mtu, 'type', 'veth', 'peer', 'name', tmp, 'mtu', mtu, 'netns', ns]);
      await k.ip(['-n', ns, 'link', 'set', 'dev', tmp, 'name', port.ifname, 'address', port.mac]);
      await k.trySysctl(`net/ipv6/conf/${hv}/disable_ipv6`, '1');
      await k.ip(['-n', ns, 'addr', 'add', addr, 'dev', port.ifname]);
      await k.ip(['link', 'set', 'dev', hv, 'master', b, 'alias', `yun:port:${port.portId}`, 'up']);
    }
    await k.ip(['-n', ns, 'link', 'set', 'dev', port.ifname, 'up']);
    if (port.ifname === 'eth0') {
      await k.ip(['-n', ns, 'route', 'replace', 'default', 'via', net.gateway, 'dev', port.ifname]);
      await k.writeNetnsEtc(ns, 'resolv.conf', resolvConf(net.gateway, net.dnsDomain));
    }
  }

  private async kernelDetach(port: PortState, ports: PortState[]): Promise<void> {
    await this.kernel.deleteLink(this.names.hostVeth(port.portId));
    if (port.nic === 'tap') return;
    const others = ports.filter((p) => p.instanceId === port.instanceId && p.portId !== port.portId && p.nic !== 'tap');
    if (others.length === 0) await this.kernel.deleteNetns(this.names.netns(port.instanceId));
  }

  async detach(portId: string): Promise<void> {
    validateId(portId, 'portId');
    return this.serial(async () => {
      const port = this.state.ports[portId];
      if (!port) {
        await this.kernel.deleteLink(this.names.hostVeth(portId));
        return;
      }
      delete this.state.ports[portId];
      await this.save();
      await this.applyFull();
      await this.kernelDetach(port, [...Object.values(this.state.ports), port]);
      const net = this.state.networks[port.networkId];
      if (net) await this.syncDns(net);
    });
  }

  async applySecurityGroups(portId: string, rules: SecurityRule[]): Promise<void> {
    validateId(portId, 'portId');
    const valid = validateRules(rules);
    return this.serial(async () => {
      const port = this.state.ports[portId];
      if (!port) throw notFound('port', portId);
      const net = this.state.networks[port.networkId]!;
      port.rules = valid;
      await this.save();
      const r = await this.run('nft', ['-f', '-'], { input: portRuleset(port, net.gateway, this.names, this.ruleOpts), allowFail: true });
      if (r.code !== 0) await this.applyFull(); // chains missing (e.g. tables removed by hand): rebuild all
    });
  }

  // ---- published ports ----

  async publishPort(spec: PublishSpec): Promise<void> {
    const v = validatePublish(spec);
    return this.serial(async () => {
      const clash = Object.values(this.state.published).find((p) => p.id !== v.id && publishClash(p, v));
      if (clash) throw new YunError('Conflict', `${v.protocol} ${v.hostIp}:${v.hostPort} is already published by ${clash.id}`, { field: 'hostPort' });
      const same = JSON.stringify(this.state.published[v.id]) === JSON.stringify(v);
      // DNAT would silently shadow a host process listening there: refuse instead.
      if (!same && !(await portIsFree(v.protocol, v.hostIp, v.hostPort))) {
        throw new YunError('Conflict', `${v.protocol} ${v.hostIp}:${v.hostPort} is in use by a host process`, { field: 'hostPort' });
      }
      this.state.published[v.id] = v;
      await this.save();
      await this.applyFull();
    });
  }

  async unpublishPort(id: string): Promise<void> {
    validateId(id, 'id');
    return this.serial(async () => {
      if (!this.state.published[id]) return;
      delete this.state.published[id];
      await this.save();
      await this.applyFull();
    });
  }

  // ---- DNS ----

  async setDnsRecords(networkId: string, records: DnsRecord[]): Promise<void> {
    validateId(networkId, 'networkId');
    const valid = validateRecords(records);
    return this.serial(async () => {
      const net = this.state.networks[networkId];
      if (!net) throw notFound('network', networkId);
      this.state.dns[networkId] = valid;
      await this.save();
      await this.syncDns(net);
    });
  }

  private recordsOf(netId: string): DnsRecord[] {
    const own = Object.values(this.state.ports).filter((p) => p.networkId === netId && p.dnsName).map((p) => ({ name: p.dnsName!, ip: p.ip }));
    return [...own, ...(this.state.dns[netId] ?? [])];
  }

  private async syncDns(net: Net): Promise<void> {
    let s = this.dns.get(net.id);
    if (s && s.host !== net.gateway) {
      await s.close();
      s = undefined;
    }
    if (!s) {
      s = new DnsServer({ host: net.gateway, port: this.ruleOpts.dnsPort });
      s.setRecords(this.recordsOf(net.id));
      await s.listen();
      this.dns.set(net.id, s);
    }
    s.setRecords(this.recordsOf(net.id));
  }

  private async stopDns(netId: string): Promise<void> {
    const s = this.dns.get(netId);
    this.dns.delete(netId);
    await s?.close();
  }

  identifyInstance(sourceIp: string) {
    const p = Object.values(this.state.ports).find((x) => x.ip === sourceIp);
    return p ? { instanceId: p.instanceId, portId: p.portId, networkId: p.networkId } : undefined;
  }

  // ---- reconcile ----

  async reconcile(desired: DesiredNetworkState): Promise<void> {
    const nets = desired.networks.map(validateNetwork);
    const ports = desired.ports.map(validateAttach);
    const pubs = desired.publishedPorts.map(validatePublish);
    const dns = Object.fromEntries(Object.entries(desired.dnsRecords ?? {}).map(([k, v]) => [validateId(k, 'dnsRecords'), validateRecords(v)]));
    return this.serial(async () => {
      const next = planState({ networks: nets, ports, published: pubs, dns }, this.state, this.names);
      await this.removeStrays(next);
      this.state = next;
      await this.save();
      for (const n of Object.values(next.networks)) await this.kernelNetwork(n);
      for (const p of Object.values(next.ports)) await this.kernelAttach(p, next.networks[p.networkId]!);
      await this.applyFull();
      for (const id of [...this.dns.keys()]) if (!next.networks[id]) await this.stopDns(id);
      for (const n of Object.values(next.networks)) await this.syncDns(n);
    });
  }

  /** Deletes owned kernel objects that `next` does not contain. */
  private async removeStrays(next: DriverState): Promise<void> {
    const n = this.names;
    const wantVeth = new Set(Object.keys(next.ports).map((id) => n.hostVeth(id)));
    const wantBridge = new Set(Object.keys(next.networks).map((id) => n.bridge(id)));
    const wantNs = new Set(Object.values(next.ports).filter((p) => p.nic !== 'tap').map((p) => n.netns(p.instanceId)));
    for (const l of await this.kernel.links()) {
      if ((n.isHostVeth(l.ifname) && !wantVeth.has(l.ifname)) || n.isTmpPeer(l.ifname)) await this.kernel.deleteLink(l.ifname);
    }
    const nsNames = new Set([...(await this.kernel.netnsList()), ...(await this.kernel.netnsEtcList())]);
    for (const ns of nsNames) if (n.isNetns(ns) && !wantNs.has(ns)) await this.kernel.deleteNetns(ns);
    for (const l of await this.kernel.links()) if (n.isBridge(l.ifname) && !wantBridge.has(l.ifname)) await this.kernel.deleteLink(l.ifname);
  }

  async listOwned(): Promise<OwnedObjects> {
    const n = this.names;
    const links = await this.kernel.links();
    const fromAlias = (pre: string, pick: (name: string) => boolean) =>
      links.filter((l) => pick(l.ifname) && l.alias?.startsWith(pre)).map((l) => l.alias!.slice(pre.length));
    const nsLive = new Set((await this.kernel.netnsList()).filter((x) => n.isNetns(x)));
    const instances = [...new Set(Object.values(this.state.ports).filter((p) => p.nic !== 'tap').map((p) => p.instanceId))].filter((i) => nsLive.has(n.netns(i)));
    const r = await this.run('nft', ['-j', 'list', 'table', 'ip', n.natTable], { allowFail: true });
    const publishedPorts: string[] = [];
    if (r.code === 0) {
      for (const item of (JSON.parse(r.stdout) as { nftables: Array<{ rule?: { chain: string; comment?: string } }> }).nftables) {
        const c = item.rule?.comment;
        if (item.rule?.chain === 'prerouting' && c?.startsWith('pub:')) publishedPorts.push(c.slice(4));
      }
    }
    return { networks: fromAlias('yun:net:', (x) => n.isBridge(x)), ports: fromAlias('yun:port:', (x) => n.isHostVeth(x)), publishedPorts, instances };
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      for (const id of [...this.dns.keys()]) await this.stopDns(id);
    });
  }
}

