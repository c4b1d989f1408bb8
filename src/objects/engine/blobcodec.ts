/**
 * On-disk encoding of one blob, in fixed 64 KiB plaintext segments so that
 * a range read touches (and verifies, and decrypts) only the segments it needs.
 *
 *   plain:     data ‖ crc32(seg0) ‖ crc32(seg1) ‖ …     (4-byte BE each)
 *   encrypted: ct0 ‖ tag0 ‖ ct1 ‖ tag1 ‖ …              AES-256-GCM per segment,
 *              IV = 8-byte random prefix ‖ segment index (BE u32), AAD = blob id
 *
 * Any mismatch (bit flip, wrong key, truncation) raises `BlobCorrupt`; bytes
 * of a segment are only released after that segment verified.
 */
import { type CipherGCM, createCipheriv, createDecipheriv } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { BlobReader, BlobWriter } from '../backends/types.ts';

export const SEGMENT = 64 * 1024;
const TAG = 16;
const READ_SEGMENTS = 16;

export class BlobCorrupt extends Error {
  constructor(msg: string) { super(msg); this.name = 'BlobCorrupt'; }
}

/** How a blob is encrypted; the data key itself is only held in memory. */
export interface BlobCipher { key: Buffer; ivPrefix: Buffer }

const segCount = (size: number) => Math.ceil(size / SEGMENT);

/** Physical size of a blob holding `size` plaintext bytes. */
export function physicalSize(size: number, encrypted: boolean): number {
  return encrypted ? size + segCount(size) * TAG : size + segCount(size) * 4;
}

function iv(prefix: Buffer, index: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  prefix.copy(b, 0, 0, 8);
  b.writeUInt32BE(index, 8);
  return b;
}

/** Streams plaintext into `writer` in the blob format. Call `finish()` before committing. */
export class BlobEncoder {
  private seg = 0;
  private segFill = 0;
  private crc = 0;
  private crcs: Buffer[] = [];
  private cipher: CipherGCM | undefined;
  constructor(private readonly writer: BlobWriter, private readonly enc?: BlobCipher) {}

  async write(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(SEGMENT - this.segFill, chunk.length - off);
      const piece = off === 0 && take === chunk.length ? chunk : chunk.subarray(off, off + take);
      off += take;
      if (this.enc) {
        if (!this.cipher) {
          this.cipher = createCipheriv('aes-256-gcm', this.enc.key, iv(this.enc.ivPrefix, this.seg));
          this.cipher.setAAD(Buffer.from(this.writer.id));
        }
        await this.writer.write(this.cipher.update(piece));
      } else {
        this.crc = crc32(piece, this.crc);
        await this.writer.write(piece);
      }
      this.segFill += take;
      if (this.segFill === SEGMENT) await this.endSegment();
    }
  }

  private async endSegment() {
    if (this.enc) {
      const c = this.cipher!;
      const fin = c.final();
      if (fin.length) await this.writer.write(fin);
      await this.writer.write(c.getAuthTag());
      this.cipher = undefined;
    } else {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(this.crc >>> 0);
      this.crcs.push(b);
      this.crc = 0;
    }
    this.seg++;
    this.segFill = 0;
  }

  async finish(): Promise<void> {
    if (this.segFill > 0) await this.endSegment();
    if (!this.enc && this.crcs.length) await this.writer.write(Buffer.concat(this.crcs));
  }
}

/**
 * Yields plaintext bytes [start, end) of a blob of `size` plaintext bytes,
 * verifying every segment it touches. `blobId` is the AAD for encrypted blobs.
 */
export async function* decodeRange(reader: BlobReader, blobId: string, size: number, start: number, end: number, enc?: BlobCipher): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const expected = physicalSize(size, !!enc);
  if (reader.size !== expected) throw new BlobCorrupt(`blob ${blobId} has ${reader.size} bytes, expected ${expected}`);
  const nseg = segCount(size);
  let s = Math.floor(start / SEGMENT);
  const last = Math.floor((end - 1) / SEGMENT);
  while (s <= last) {
    const batchEnd = Math.min(last, s + READ_SEGMENTS - 1);
    const dataStart = s * SEGMENT;
    const dataEnd = Math.min(size, (batchEnd + 1) * SEGMENT);
    let plain: Buffer;
    if (enc) {
      const phys = await reader.read(dataStart + s * TAG, dataEnd - dataStart + (batchEnd - s + 1) * TAG);
      const parts: Buffer[] = [];
      let p = 0;
      for (let i = s; i <= batchEnd; i++) {
        const len = Math.min(SEGMENT, size - i * SEGMENT);
        const d = createDecipheriv('aes-256-gcm', enc.key, iv(enc.ivPrefix, i));
        d.setAAD(Buffer.from(blobId));
        d.setAuthTag(phys.subarray(p + len, p + len + TAG));
        try {
          parts.push(d.update(phys.subarray(p, p + len)));
          d.final();
        } catch {
          throw new BlobCorrupt(`segment ${i} of blob ${blobId} failed authentication`);
        }
        p += len + TAG;
      }
      plain = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    } else {
      plain = await reader.read(dataStart, dataEnd - dataStart);
      const crcs = await reader.read(size + s * 4, (batchEnd - s + 1) * 4);
      if (plain.length !== dataEnd - dataStart || crcs.length !== (batchEnd - s + 1) * 4) throw new BlobCorrupt(`blob ${blobId} is truncated`);
      for (let i = s; i <= batchEnd; i++) {
        const off = (i - s) * SEGMENT;
        const len = Math.min(SEGMENT, size - i * SEGMENT);
        if ((crc32(plain.subarray(off, off + len)) >>> 0) !== crcs.readUInt32BE((i - s) * 4)) throw new BlobCorrupt(`segment ${i} of blob ${blobId} fails its checksum`);
      }
    }
    const from = Math.max(start, dataStart) - dataStart;
    const to = Math.min(end, dataEnd) - dataStart;
    yield from === 0 && to === plain.length ? plain : plain.subarray(from, to);
    s = batchEnd + 1;
  }
  void nseg;
}
