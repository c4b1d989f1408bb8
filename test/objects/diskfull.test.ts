/**
 * Disk full: a PUT that runs out of space fails with an S3 error (507
 * InsufficientStorage, XML with a RequestId), nothing half-written is
 * visible, reads keep working, and writes resume once space returns.
 * Uses a small tmpfs as the data filesystem (needs root and mount).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { createObjectService, createStaticIdentity } from '../../src/objects/index.ts';
import { KEY_A, requireCapability } from './helpers.ts';
import { errorCode, signed } from './raw.ts';
import type { AddressInfo } from 'node:net';

const A = { accessKeyId: KEY_A.accessKeyId, secretAccessKey: KEY_A.secretAccessKey };

test('disk full → 507 InsufficientStorage, nothing half-written, recovers when space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yun-s3-full-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  let mounted = false;
  try {
    try { execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', data], { stdio: 'ignore' }); mounted = true; } catch { /* no capability */ }
    if (!requireCapability(t, mounted, 'cannot mount a tmpfs (needs root)')) return;
    const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
    const svc = createObjectService({ store, dataDir: join(data, 'objects'), region: 'us-east-1', masterKeyPath: join(dir, 'master.key'), identity: createStaticIdentity([KEY_A]) });
    const server = await svc.start(0);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await signed(A, 'PUT', `${url}/full`).send()).status, 200);
      const keep = randomBytes(3 * 1024 * 1024);
      assert.equal((await signed(A, 'PUT', `${url}/full/keep`, { body: keep }).send()).status, 200);
      const big = randomBytes(7 * 1024 * 1024);
      const r = await signed(A, 'PUT', `${url}/full/big`, { body: big }).send().catch((e) => ({ status: -1, text: String(e), headers: {}, body: Buffer.alloc(0) }));
      assert.equal(r.status, 507, r.text);
      assert.equal(errorCode(r as never), 'InsufficientStorage');
      assert.match(r.text, /<RequestId>/);
      assert.equal((await signed(A, 'GET', `${url}/full/big`).send()).status, 404, 'nothing half-written is visible');
      assert.deepEqual(readdirSync(join(data, 'objects', 'tmp')), [], 'temp file removed');
      const g = await signed(A, 'GET', `${url}/full/keep`).send();
      assert.ok(g.body.equals(keep), 'reads keep working');
      assert.equal((await signed(A, 'DELETE', `${url}/full/keep`).send()).status, 204);
      await new Promise((res) => setTimeout(res, 200)); // blob GC runs after commit
      assert.equal((await signed(A, 'PUT', `${url}/full/big`, { body: big }).send()).status, 200, 'writes resume when space returns');
      assert.ok((await signed(A, 'GET', `${url}/full/big`).send()).body.equals(big));
    } finally {
      await svc.close();
      await store.close();
    }
  } finally {
    if (mounted) execFileSync('umount', [data]);
    rmSync(dir, { recursive: true, force: true });
  }
});
