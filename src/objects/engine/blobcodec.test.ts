import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { BlobReader, BlobWriter } from '../backends/types.ts';
import { BlobCorrupt, BlobEncoder, decodeRange, physicalSize, SEGMENT } from './blobcodec.ts';

function memBlob(): { writer: BlobWriter; reader: () => BlobReader; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  let bytes = Buffer.alloc(0);
  return {
    writer: { id: 'blob0000000000000000000001', write: async (c) => { parts.push(Buffer.from(c)); }, commit: async () => { bytes = Buffer.concat(parts); }, abort: async () => {} },
    reader: () => ({ size: bytes.length, read: async (p, l) => bytes.subarray(p, p + l), close: async () => {} }),
    bytes: () => bytes,
  };
}

async function roundTrip(data: Buffer, enc?: { key: Buffer; ivPrefix: Buffer }) {
  const m = memBlob();
  const e = new BlobEncoder(m.writer, enc);
  for (let o = 0; o < data.length; o += 10_007) await e.write(data.subarray(o, o + 10_007));
  await e.finish();
  await m.writer.commit();
  assert.equal(m.bytes().length, physicalSize(data.length, !!enc));
  const read = async (s: number, t: number) => { const out: Buffer[] = []; for await (const b of decodeRange(m.reader(), m.writer.id, data.length, s, t, enc)) out.push(b); return Buffer.concat(out); };
  return { m, read };
}

for (const encrypted of [false, true]) {
  test(`${encrypted ? 'encrypted' : 'plain'} blobs decode any range and detect a flipped bit`, async () => {
    const data = randomBytes(3 * SEGMENT + 1234);
    const enc = encrypted ? { key: randomBytes(32), ivPrefix: randomBytes(8) } : undefined;
    const { m, read } = await roundTrip(data, enc);
    for (const [s, t] of [[0, data.length], [0, 1], [SEGMENT - 1, SEGMENT + 1], [2 * SEGMENT + 5, data.length], [100, 100 + SEGMENT * 2]] as const) {
      assert.ok((await read(s, t)).equals(data.subarray(s, t)), `range ${s}-${t}`);
    }
    if (encrypted) assert.equal(m.bytes().indexOf(data.subarray(0, 32)), -1, 'no plaintext on disk');
    m.bytes()[SEGMENT + (encrypted ? 16 : 0) + 7]! ^= 1; // inside segment 1 (after segment 0 and its GCM tag)
    await assert.rejects(read(SEGMENT, SEGMENT + 10), BlobCorrupt);
    assert.ok((await read(0, 100)).equals(data.subarray(0, 100)), 'other segments still verify');
  });
}

test('an empty blob round-trips', async () => {
  const { read } = await roundTrip(Buffer.alloc(0));
  assert.equal((await read(0, 0)).length, 0);
});
