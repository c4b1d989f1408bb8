/**
 * Security group rules as users write them and as the store keeps them.
 *
 * Text form (CLI and API accept it): `<direction> <protocol> [<ports>] [<remote>]`
 *   direction: ingress | egress
 *   protocol:  tcp | udp | icmp | any
 *   ports:     80 | 8000-8080 | all      (tcp/udp only; omitted = all ports)
 *   remote:    a CIDR (10.0.0.0/24, 0.0.0.0/0) or `sg:<group>` (members of
 *              another security group of the same project); omitted = anywhere
 * e.g. `ingress tcp 80 0.0.0.0/0`, `ingress any sg:default`, `egress udp 53`.
 */
import { YunError } from '../core/errors.ts';
import { NAME_RE } from '../core/ids.ts';
import { parseCidr } from './ipam.ts';

export type Direction = 'ingress' | 'egress';
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'any';

/** A stored rule. At most one of remoteCidr / remoteGroup. */
export interface SgRule {
  direction: Direction;
  protocol: Protocol;
  portMin?: number;
  portMax?: number;
  remoteCidr?: string;
  /** Name of a security group in the same project. */
  remoteGroup?: string;
}

const bad = (field: string, msg: string) => new YunError('ValidationFailed', `${field}: ${msg}`, { field });

function port(s: string, field: string): number {
  if (!/^[0-9]{1,5}$/.test(s)) throw bad(field, `'${s}' is not a port number`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw bad(field, `port ${n} is outside 1-65535`);
  return n;
}

/** Parses the text form. `field` names the rule in errors, e.g. `/spec/rules/0`. */
export function parseRuleText(text: string, field: string): SgRule {
  const t = text.trim().split(/\s+/).filter(Boolean);
  if (t.length < 2 || t.length > 4) throw bad(field, `'${text}' is not a rule; write '<ingress|egress> <tcp|udp|icmp|any> [port|min-max|all] [cidr|sg:group]'`);
  const [dir, proto, ...rest] = t as [string, string, ...string[]];
  const rule: Record<string, unknown> = { direction: dir.toLowerCase(), protocol: proto.toLowerCase() };
  let i = 0;
  const p = rest[i];
  if (p !== undefined && /^([0-9]+(-[0-9]+)?|all|\*)$/i.test(p)) {
    if (!/^(all|\*)$/i.test(p)) {
      const [a, b] = p.split('-');
      rule.portMin = port(a!, field);
      rule.portMax = b === undefined ? rule.portMin : port(b, field);
    }
    i++;
  }
  const r = rest[i];
  if (r !== undefined) {
    if (r.startsWith('sg:')) rule.remoteGroup = r.slice(3);
    else rule.remoteCidr = r;
    i++;
  }
  if (i !== rest.length) throw bad(field, `unexpected '${rest[i]}' in '${text}'`);
  return normalizeRule(rule, field);
}

/** Validates a rule given as an object or as text; returns the canonical stored form. */
export function normalizeRule(input: unknown, field: string): SgRule {
  if (typeof input === 'string') return parseRuleText(input, field);
  if (!input || typeof input !== 'object') throw bad(field, 'must be a rule object or text');
  const o = input as Record<string, unknown>;
  if (o.direction !== 'ingress' && o.direction !== 'egress') throw bad(`${field}/direction`, 'must be ingress or egress');
  if (!['tcp', 'udp', 'icmp', 'any'].includes(o.protocol as string)) throw bad(`${field}/protocol`, 'must be tcp, udp, icmp or any');
  const out: SgRule = { direction: o.direction, protocol: o.protocol as Protocol };
  if (o.portMin !== undefined || o.portMax !== undefined) {
    if (out.protocol !== 'tcp' && out.protocol !== 'udp') throw bad(`${field}/portMin`, `ports apply to tcp and udp only, not ${out.protocol}`);
    const min = o.portMin ?? o.portMax;
    const max = o.portMax ?? o.portMin;
    if (!Number.isInteger(min) || (min as number) < 1 || (min as number) > 65535) throw bad(`${field}/portMin`, 'must be an integer 1-65535');
    if (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 65535) throw bad(`${field}/portMax`, 'must be an integer 1-65535');
    if ((max as number) < (min as number)) throw bad(`${field}/portMax`, 'must not be below portMin');
    out.portMin = min as number;
    out.portMax = max as number;
  }
  if (o.remoteCidr !== undefined && o.remoteGroup !== undefined) throw bad(`${field}/remoteCidr`, 'give remoteCidr or remoteGroup, not both');
  if (o.remoteCidr !== undefined) out.remoteCidr = parseCidr(o.remoteCidr, `${field}/remoteCidr`, { strict: false }).text;
  if (o.remoteGroup !== undefined) {
    if (typeof o.remoteGroup !== 'string' || !NAME_RE.test(o.remoteGroup)) throw bad(`${field}/remoteGroup`, 'must be a security group name');
    out.remoteGroup = o.remoteGroup;
  }
  return out;
}

/** Canonical text of a rule (for listing and for `rule delete`). */
export function ruleText(r: SgRule): string {
  const parts: string[] = [r.direction, r.protocol];
  if (r.portMin !== undefined) parts.push(r.portMin === r.portMax ? String(r.portMin) : `${r.portMin}-${r.portMax}`);
  if (r.remoteCidr) parts.push(r.remoteCidr);
  if (r.remoteGroup) parts.push(`sg:${r.remoteGroup}`);
  return parts.join(' ');
}

export const sameRule = (a: SgRule, b: SgRule) => ruleText(a) === ruleText(b);
