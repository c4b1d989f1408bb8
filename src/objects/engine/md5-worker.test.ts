import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { WorkerMd5 } from './md5-worker.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

test('worker MD5 equals node crypto for any size and chunking, with hashers interleaved', async () => {
  const bodies = [0, 1, 1024 * 1024, 1024 * 1024 + 1, 9 * 1024 * 1024 + 12345].map((n) => randomBytes(n));
  const hashers = bodies.map(() => new WorkerMd5());
  // Feed all bodies at once in uneven chunks so the worker sees their batches interleaved.
  await Promise.all(bodies.map(async (b, i) => {
    for (let off = 0, step = 1 + i * 77_777; off < b.length; off += step) await hashers[i]!.update(b.subarray(off, off + step));
  }));
  const digests = await Promise.all(hashers.map((h) => h.digest()));
  digests.forEach((d, i) => { assert.deepEqual(d, md5(bodies[i]!), `body ${i} (${bodies[i]!.length} bytes)`); });
});

test('an aborted hasher leaves the others intact', async () => {
  const a = new WorkerMd5();
  const b = new WorkerMd5();
  const body = randomBytes(3 * 1024 * 1024);
  await a.update(body);
  await b.update(body);
  a.abort();
  a.abort();
  assert.deepEqual(await b.digest(), md5(body));
});
