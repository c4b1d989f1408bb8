import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlockModule, blockModule } from '../../src/block/module.ts';
import { type ComputeModule, type ComputeOptions, computeModule } from '../../src/compute/module.ts';
import { type VmSupport, vmSupport } from '../../src/compute/vm/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

export interface BlockCloud {
  tc: TestCloud;
  vm: VmSupport;
  compute: ComputeModule;
  block: BlockModule;
  c: YunClient;
  home: string;
  /** Stops the cloud. Unless `keepWorkloads`, deletes every workload and volume first and removes the home. */
  stop(o?: { keepWorkloads?: boolean }): Promise<void>;
}

/** A listening cloud with VM support, compute and block storage (no network service) on a temp home, or `home` to restart on the same state. */
export async function startBlockCloud(o: { home?: string; compute?: ComputeOptions; accelerator?: 'auto' | 'tcg'; pool?: { capacityGb?: number; overcommit?: number } } = {}): Promise<BlockCloud> {
  const home = o.home ?? await mkdtemp(join(tmpdir(), 'yun-block-'));
  const config = resolveConfig({ home }, {});
  const vm = vmSupport(config, { accelerator: o.accelerator ?? 'auto', stopTimeoutMs: 3000 });
  const compute = computeModule(config, { stopTimeoutMs: 3000, pollMs: 200, wrapDriver: vm.wrap, ...o.compute });
  const block = blockModule(config, { vm, resyncMs: 1000, ...(o.pool ? { pool: o.pool } : {}) });
  const tc = await startTestCloud({ home, modules: [vm, compute, block], keepHome: true });
  return {
    tc, vm, compute, block, c: tc.admin, home,
    stop: async (s = {}) => {
      if (!s.keepWorkloads) {
        await compute.controller?.stop();
        await block.controller?.stop();
        for (const w of await compute.driver.list()) await compute.driver.delete(w.id);
        const { unmount } = await import('../../src/block/drivers/index.ts');
        const { readdir } = await import('node:fs/promises');
        for (const d of await readdir(join(home, 'block', 'mnt')).catch(() => [] as string[])) await unmount(join(home, 'block', 'mnt', d));
      }
      await tc.stop();
      if (!s.keepWorkloads) await rm(home, { recursive: true, force: true });
    },
  };
}

type R = { status: Record<string, unknown>; spec: Record<string, unknown> };

export async function waitFor(c: YunClient, plural: string, name: string, ok: (r: R) => boolean, timeoutMs = 30_000): Promise<R> {
  return await c.resource(plural).waitFor(name, (r) => ok(r as unknown as R), timeoutMs) as unknown as R;
}
