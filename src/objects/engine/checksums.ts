/**
 * The S3 additional checksums (CRC32, CRC32C, SHA1, SHA256, CRC64NVME) as
 * incremental hashers producing the base64 big-endian form S3 puts on the
 * wire. CRC32 uses zlib's native implementation; CRC32C and CRC64NVME are
 * table driven.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256' | 'CRC64NVME';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'];

export interface Checksum { update(b: Buffer): void; digest(): Buffer }

const CRC32C_TABLE = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) for (let s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i]! >>> 8) ^ t[t[(s - 1) * 256 + i]! & 0xff]!;
  return t;
})();

export function crc32cUpdate(crc: number, b: Uint8Array): number {
  let c = ~crc;
  const t = CRC32C_TABLE;
  let i = 0;
  const n = b.length;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    c = t[7 * 256 + (a & 0xff)]! ^ t[6 * 256 + ((a >>> 8) & 0xff)]! ^ t[5 * 256 + ((a >>> 16) & 0xff)]! ^ t[4 * 256 + (a >>> 24)]!
      ^ t[3 * 256 + b[i + 4]!]! ^ t[2 * 256 + b[i + 5]!]! ^ t[256 + b[i + 6]!]! ^ t[b[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const CRC64_POLY = 0x9a6c9329ac4bc9b5n;
const CRC64_TABLE = (() => {
  const t: bigint[] = new Array(256);
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ CRC64_POLY : c >> 1n;
    t[i] = c;
  }
  return t;
})();

function u32be(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

export function createChecksum(algo: ChecksumAlgorithm): Checksum {
  switch (algo) {
    case 'CRC32': { let c = 0; return { update: (b) => { c = crc32(b, c); }, digest: () => u32be(c) }; }
    case 'CRC32C': { let c = 0; return { update: (b) => { c = crc32cUpdate(c, b); }, digest: () => u32be(c) }; }
    case 'SHA1': case 'SHA256': { const h = createHash(algo.toLowerCase()); return { update: (b) => { h.update(b); }, digest: () => h.digest() }; }
    case 'CRC64NVME': {
      let c = 0xffffffffffffffffn;
      return {
        update: (b) => { for (const x of b) c = CRC64_TABLE[Number((c ^ BigInt(x)) & 0xffn)]! ^ (c >> 8n); },
        digest: () => { const o = Buffer.alloc(8); o.writeBigUInt64BE(c ^ 0xffffffffffffffffn); return o; },
      };
    }
  }
}

/** Header name for an algorithm: x-amz-checksum-crc32 … */
export const checksumHeader = (a: ChecksumAlgorithm) => `x-amz-checksum-${a.toLowerCase()}`;

export function parseAlgorithm(s: string | undefined): ChecksumAlgorithm | undefined {
  if (!s) return undefined;
  const u = s.toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(u) ? (u as ChecksumAlgorithm) : undefined;
}

/** Expected digest length in bytes. */
export const checksumLength = (a: ChecksumAlgorithm) => (a === 'SHA256' ? 32 : a === 'SHA1' ? 20 : a === 'CRC64NVME' ? 8 : 4);
