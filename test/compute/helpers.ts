import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ComputeOptions, computeModule, type ComputeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

export interface ComputeCloud {
  tc: TestCloud;
  mod: ComputeModule;
  c: YunClient;
  home: string;
  /** Stops the cloud. Unless `keepWorkloads`, deletes every workload first and removes the home. */
  stop(o?: { keepWorkloads?: boolean }): Promise<void>;
}

/** A listening cloud with the compute module on a temp home (or `home`, to restart on the same state). */
export async function startComputeCloud(o: { home?: string; compute?: ComputeOptions; store?: string } = {}): Promise<ComputeCloud> {
  const home = o.home ?? await mkdtemp(join(tmpdir(), 'yun-compute-'));
  const mod = computeModule(resolveConfig({ home }, {}), { stopTimeoutMs: 2000, pollMs: 200, ...o.compute });
  const tc = await startTestCloud({ home, modules: [mod], keepHome: true, store: o.store });
  return {
    tc, mod, c: tc.admin, home,
    stop: async (s = {}) => {
      if (!s.keepWorkloads) {
        await mod.controller?.stop();
        for (const w of await mod.driver.list()) await mod.driver.delete(w.id);
      }
      await tc.stop();
      if (!s.keepWorkloads) await rm(home, { recursive: true, force: true });
    },
  };
}

type R = { status: Record<string, unknown>; spec: Record<string, unknown> };

export async function waitState(c: YunClient, name: string, states: string[], timeoutMs = 30_000): Promise<R> {
  return await c.resource('instances').waitFor(name, (r) => states.includes(String((r as R).status.state)), timeoutMs) as unknown as R;
}

export async function buildImage(c: YunClient, name: string, build: 'busybox' | 'node'): Promise<void> {
  await c.request('POST', '/v1/images', { body: { name, spec: { source: { build } } } });
  const r = await c.resource('images').waitFor(name, (x) => ['available', 'error'].includes(String((x as R).status.state)), 120_000);
  if ((r as R).status.state !== 'available') throw new Error(`image ${name}: ${JSON.stringify(r.status)}`);
}
