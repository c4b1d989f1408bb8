import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

/** Random lowercase base32 string of `n` characters. */
export function randomToken(n = 16): string {
  if (n > POOL_SIZE) return tokenFrom(randomBytes(n), 0, n);
  // One CSPRNG call per POOL_SIZE bytes instead of one per id.
  if (poolAt + n > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  const out = tokenFrom(pool, poolAt, n);
  pool.fill(0, poolAt, poolAt + n); // a used byte never serves twice, not even in a dump
  poolAt += n;
  return out;
}

const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolAt = POOL_SIZE;

function tokenFrom(bytes: Buffer, at: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[bytes[at + i]! & 31];
  return out;
}

/** Resource ids carry a kind prefix: `i-…` instance, `prj-…` project. */
export function newId(prefix: string): string {
  return `${prefix}-${randomToken(16)}`;
}

/** DNS-label style names used for every resource name. */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
