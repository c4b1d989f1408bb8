/**
 * Validation of every driver input before any value reaches `ip` or `nft`.
 * Returns normalised copies; throws ValidationFailed naming the field.
 */
import { YunError } from '../../core/errors.ts';
import { contains, parseCidr, parseIpv4, parseSubnet, validateIpv4 } from '../ipam.ts';
import type { AttachSpec, DnsRecord, NetworkSpec, NicKind, PublishSpec, SecurityRule } from './types.ts';

const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const DNS_NAME_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const fail = (field: string, msg: string) => new YunError('ValidationFailed', `${field} ${msg}`, { field });

export function validateId(v: unknown, field: string): string {
  if (typeof v !== 'string' || !ID_RE.test(v)) throw fail(field, 'must be 1-128 characters of [A-Za-z0-9._:-]');
  return v;
}

export function validatePort(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw fail(field, 'must be an integer port 1-65535');
  return v;
}

export function validateDnsName(v: unknown, field: string): string {
  if (typeof v !== 'string') throw fail(field, 'must be a DNS name');
  const s = v.toLowerCase().replace(/\.$/, '');
  if (!DNS_NAME_RE.test(s)) throw fail(field, 'must be a DNS name of lowercase labels');
  return s;
}

export function validateNetwork(spec: NetworkSpec): Required<NetworkSpec> {
  const id = validateId(spec.id, 'id');
  const cidr = parseSubnet(spec.cidr, 'cidr');
  const gateway = validateIpv4(spec.gateway, 'gateway');
  const gw = parseIpv4(gateway)!;
  if (!contains(cidr, gw) || gw === cidr.network) throw fail('gateway', `must be a usable address inside ${cidr.text}`);
  const mtu = spec.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw fail('mtu', 'must be an integer 576-9000');
  if (typeof spec.nat !== 'boolean') throw fail('nat', 'must be a boolean');
  const dnsDomain = validateDnsName(spec.dnsDomain ?? `${id.toLowerCase().replace(/[^a-z0-9-]/g, '-')}.internal`, 'dnsDomain');
  return { id, cidr: cidr.text, gateway, mtu, nat: spec.nat, dnsDomain };
}

export function validateMac(v: unknown, field = 'mac'): string {
  if (typeof v !== 'string' || !MAC_RE.test(v.toLowerCase())) throw fail(field, 'must look like 02:00:00:00:00:01');
  const s = v.toLowerCase();
  if (Number.parseInt(s.slice(0, 2), 16) & 1) throw fail(field, 'must be a unicast address');
  return s;
}

export function validateRule(r: SecurityRule, i: number): SecurityRule {
  const f = `rules/${i}`;
  if (r.direction !== 'ingress' && r.direction !== 'egress') throw fail(`${f}/direction`, 'must be ingress or egress');
  if (!['tcp', 'udp', 'icmp', 'any'].includes(r.protocol)) throw fail(`${f}/protocol`, 'must be tcp, udp, icmp or any');
  const out: SecurityRule = { direction: r.direction, protocol: r.protocol };
  if (r.protocol === 'tcp' || r.protocol === 'udp') {
    if (r.portMin !== undefined || r.portMax !== undefined) {
      const min = validatePort(r.portMin ?? r.portMax, `${f}/portMin`);
      const max = validatePort(r.portMax ?? r.portMin, `${f}/portMax`);
      if (max < min) throw fail(`${f}/portMax`, 'must not be below portMin');
      out.portMin = min;
      out.portMax = max;
    }
  }
  if (r.remoteCidr !== undefined && r.remoteGroupMembers !== undefined) throw fail(`${f}/remoteCidr`, 'cannot be combined with remoteGroupMembers');
  if (r.remoteCidr !== undefined) out.remoteCidr = parseCidr(r.remoteCidr, `${f}/remoteCidr`, { strict: false }).text;
  if (r.remoteGroupMembers !== undefined) {
    if (!Array.isArray(r.remoteGroupMembers) || r.remoteGroupMembers.length > 4096) throw fail(`${f}/remoteGroupMembers`, 'must be a list of at most 4096 addresses');
    out.remoteGroupMembers = [...new Set(r.remoteGroupMembers.map((m, j) => validateIpv4(m, `${f}/remoteGroupMembers/${j}`)))];
  }
  return out;
}

export function validateRules(rules: SecurityRule[]): SecurityRule[] {
  if (!Array.isArray(rules) || rules.length > 1000) throw fail('rules', 'must be a list of at most 1000 rules');
  return rules.map(validateRule);
}

export function validateAttach(spec: AttachSpec): AttachSpec & { mac?: string; nic: NicKind } {
  return {
    networkId: validateId(spec.networkId, 'networkId'),
    portId: validateId(spec.portId, 'portId'),
    instanceId: validateId(spec.instanceId, 'instanceId'),
    ip: validateIpv4(spec.ip, 'ip'),
    mac: spec.mac === undefined ? undefined : validateMac(spec.mac),
    dnsName: spec.dnsName === undefined ? undefined : validateDnsName(spec.dnsName, 'dnsName'),
    securityRules: validateRules(spec.securityRules ?? []),
    nic: validateNic(spec.nic),
  };
}

function validateNic(nic: unknown): NicKind {
  if (nic === undefined || nic === 'veth') return 'veth';
  if (nic === 'tap') return 'tap';
  throw fail('nic', "must be 'veth' or 'tap'");
}

export function validatePublish(spec: PublishSpec): PublishSpec {
  if (spec.protocol !== 'tcp' && spec.protocol !== 'udp') throw fail('protocol', 'must be tcp or udp');
  return {
    id: validateId(spec.id, 'id'),
    hostIp: validateIpv4(spec.hostIp, 'hostIp'),
    hostPort: validatePort(spec.hostPort, 'hostPort'),
    protocol: spec.protocol,
    targetIp: validateIpv4(spec.targetIp, 'targetIp'),
    targetPort: validatePort(spec.targetPort, 'targetPort'),
  };
}

export function validateRecords(records: DnsRecord[]): DnsRecord[] {
  if (!Array.isArray(records) || records.length > 10000) throw fail('records', 'must be a list of at most 10000 records');
  return records.map((r, i) => ({ name: validateDnsName(r.name, `records/${i}/name`), ip: validateIpv4(r.ip, `records/${i}/ip`) }));
}

/** Two published ports clash when protocol and port match and the host addresses can coincide. */
export function publishClash(a: PublishSpec, b: PublishSpec): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0');
}
