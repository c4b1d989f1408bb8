/** Test helpers for the objects service: a real server on a random port over a temp SQLite store. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openStore } from '../../src/store/index.ts';
import { createObjectService, createStaticIdentity, type ObjectService } from '../../src/objects/index.ts';

export const KEY_A = { accessKeyId: 'AKIAYUNTESTUSERA0001', secretAccessKey: 'secretA/abcdefghijklmnopqrstuvwxyz0123456', userId: 'user-a', projectId: 'prj-a' };
export const KEY_B = { accessKeyId: 'AKIAYUNTESTUSERB0002', secretAccessKey: 'secretB/abcdefghijklmnopqrstuvwxyz0123456', userId: 'user-b', projectId: 'prj-b' };

export interface TestServer { url: string; port: number; svc: ObjectService; dir: string; close(): Promise<void> }

export async function startServer(opts: { dir?: string; quotas?: Record<string, { buckets?: number; storage_gb?: number }>; lifecycleDayMs?: number; lifecycleIntervalMs?: number } = {}): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'yun-s3-'));
  const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
  const identity = createStaticIdentity([KEY_A, KEY_B], opts.quotas);
  const svc = createObjectService({ store, dataDir: join(dir, 'objects'), region: 'us-east-1', baseDomain: 's3.localhost', masterKeyPath: join(dir, 'master.key'), identity, lifecycleDayMs: opts.lifecycleDayMs, lifecycleIntervalMs: opts.lifecycleIntervalMs });
  const server = await svc.start(0, '127.0.0.1');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, svc, dir,
    async close() {
      await svc.close();
      await store.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Skip (or fail under CI=true) when a capability is missing. */
export function requireCapability(t: TestContext, ok: boolean, reason: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`missing capability under CI: ${reason}`);
  t.skip(reason);
  return false;
}
