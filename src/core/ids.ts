import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

/** Random lowercase base32 string of `n` characters. */
export function randomToken(n = 16): string {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[bytes[i]! & 31];
  return out;
}

/** Resource ids carry a kind prefix: `i-…` instance, `prj-…` project. */
export function newId(prefix: string): string {
  return `${prefix}-${randomToken(16)}`;
}

/** DNS-label style names used for every resource name. */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
