/**
 * IPv4 address management as pure functions: parse and validate CIDRs and
 * addresses, check overlap, pick the gateway, allocate the next free address
 * and validate a user-chosen static address. No I/O; the network service keeps
 * the set of used addresses in its own tables and passes it in.
 *
 * Every validation error is a `YunError('ValidationFailed')` naming the field.
 */
import { YunError } from '../core/errors.ts';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefix: number;
  /** Canonical text, e.g. `10.0.0.0/24`. */
  text: string;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a strict dotted quad (no leading zeros, no shorthand). Returns undefined when invalid. */
export function parseIpv4(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length > 15) return undefined;
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Validates an IPv4 address and returns its canonical text. */
export function validateIpv4(text: unknown, field = 'ip'): string {
  const n = parseIpv4(text);
  if (n === undefined) throw new YunError('ValidationFailed', `${field} must be an IPv4 address like 10.0.0.5`, { field });
  return formatIpv4(n);
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Parses `a.b.c.d/n`. With `strict` (the default) host bits must be zero, so
 * `10.0.0.1/24` is refused rather than silently widened.
 */
export function parseCidr(text: unknown, field = 'cidr', opts: { strict?: boolean; minPrefix?: number; maxPrefix?: number } = {}): Cidr {
  const bad = (why: string) => new YunError('ValidationFailed', `${field} ${why}`, { field });
  if (typeof text !== 'string') throw bad('must be a string like 10.0.0.0/24');
  const m = /^([0-9.]{7,15})\/([0-9]{1,2})$/.exec(text);
  if (!m) throw bad('must look like 10.0.0.0/24');
  const addr = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (addr === undefined) throw bad('has an invalid address part');
  if (!(prefix >= 0 && prefix <= 32) || String(prefix) !== m[2]) throw bad('has an invalid prefix length');
  const min = opts.minPrefix ?? 0;
  const max = opts.maxPrefix ?? 32;
  if (prefix < min || prefix > max) throw bad(`prefix length must be between /${min} and /${max}`);
  const network = (addr & maskOf(prefix)) >>> 0;
  if ((opts.strict ?? true) && network !== addr) throw bad(`has host bits set (did you mean ${formatIpv4(network)}/${prefix}?)`);
  return { network, prefix, text: `${formatIpv4(network)}/${prefix}` };
}

/** Parses a CIDR suitable for an instance subnet: /8 … /29, host bits zero. */
export function parseSubnet(text: unknown, field = 'cidr'): Cidr {
  return parseCidr(text, field, { minPrefix: 8, maxPrefix: 29 });
}

export function broadcastOf(c: Cidr): number {
  return (c.network | (~maskOf(c.prefix) >>> 0)) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.network;
}

/** True when the two ranges share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(p);
  return ((a.network & m) >>> 0) === ((b.network & m) >>> 0);
}

/** Returns the first existing CIDR that overlaps `c`, if any. */
export function findOverlap(c: Cidr, existing: Iterable<Cidr | string>): Cidr | undefined {
  for (const e of existing) {
    const x = typeof e === 'string' ? parseCidr(e, 'cidr', { strict: false }) : e;
    if (overlaps(c, x)) return x;
  }
  return undefined;
}

/** The gateway is the first usable address (network + 1). */
export function gatewayOf(c: Cidr): string {
  return formatIpv4(c.network + 1);
}

export function usableRange(c: Cidr): { first: number; last: number } {
  return { first: c.network + 1, last: broadcastOf(c) - 1 };
}

/**
 * Returns the lowest free address in the subnet that is not the network,
 * broadcast or gateway address and not in `used`. Throws Conflict when the
 * subnet is full.
 */
export function allocateNext(c: Cidr, used: Iterable<string>, gateway: string = gatewayOf(c)): string {
  const taken = new Set<number>();
  for (const u of used) {
    const n = parseIpv4(u);
    if (n !== undefined) taken.add(n);
  }
  const gw = parseIpv4(gateway);
  const { first, last } = usableRange(c);
  for (let n = first; n <= last; n++) {
    if (n === gw || taken.has(n)) continue;
    return formatIpv4(n);
  }
  throw new YunError('Conflict', `subnet ${c.text} has no free address`, { details: { cidr: c.text } });
}

/**
 * Validates a user-chosen fixed address: inside the subnet, not the network,
 * broadcast or gateway address, and not already used.
 */
export function validateStatic(c: Cidr, ipText: unknown, used: Iterable<string> = [], gateway: string = gatewayOf(c), field = 'ip'): string {
  const ip = validateIpv4(ipText, field);
  const n = parseIpv4(ip)!;
  const bad = (why: string) => new YunError('ValidationFailed', `${field} ${ip} ${why}`, { field });
  if (!contains(c, n)) throw bad(`is not inside ${c.text}`);
  if (n === c.network) throw bad('is the network address');
  if (n === broadcastOf(c)) throw bad('is the broadcast address');
  if (ip === gateway) throw bad('is the gateway address');
  for (const u of used) {
    if (u === ip) throw new YunError('Conflict', `${field} ${ip} is already in use`, { field });
  }
  return ip;
}
