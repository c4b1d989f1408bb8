/**
 * A listening test cloud with compute, apps, monitoring and autoscaling on
 * a temp home, with short intervals; `stop` deletes every workload first so
 * nothing leaks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppsModule, type AppsOptions, appsModule } from '../../src/apps/module.ts';
import { type AutoscaleModule, type AutoscaleOptions, autoscaleModule } from '../../src/autoscale/module.ts';
import { type ComputeModule, type ComputeOptions, computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { type MonitorModule, type MonitorOptions, monitorModule } from '../../src/monitor/module.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

export { buildImage } from '../compute/helpers.ts';

export interface ElasticCloud {
  tc: TestCloud;
  compute: ComputeModule;
  apps: AppsModule;
  monitor: MonitorModule;
  autoscale: AutoscaleModule;
  c: YunClient;
  home: string;
  stop(): Promise<void>;
}

export async function startElasticCloud(o: { compute?: ComputeOptions; apps?: AppsOptions; monitor?: MonitorOptions; autoscale?: Partial<AutoscaleOptions> } = {}): Promise<ElasticCloud> {
  const home = await mkdtemp(join(tmpdir(), 'yun-elastic-'));
  const config = resolveConfig({ home }, {});
  const compute = computeModule(config, { stopTimeoutMs: 2000, pollMs: 200, ...o.compute });
  const apps = appsModule(config, { compute, routerPort: 0, resyncMs: 1000, ...o.apps });
  const monitor = monitorModule(config, { stats: () => compute.driver, router: () => apps.metrics, intervalMs: 500, ...o.monitor });
  const autoscale = autoscaleModule(config, { db: monitor.db, images: () => compute.images, router: () => apps.metrics, evalMs: 1000, tickMs: 100, groupResyncMs: 500, ...o.autoscale });
  const tc = await startTestCloud({ home, modules: [compute, apps, monitor, autoscale], keepHome: true });
  return {
    tc, compute, apps, monitor, autoscale, c: tc.admin, home,
    stop: async () => {
      await autoscale.controller?.stop();
      await autoscale.groups?.stop();
      await apps.controller?.stop();
      await compute.controller?.stop();
      for (const w of await compute.driver.list()) await compute.driver.delete(w.id);
      await tc.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export const waitFor = async (fn: () => Promise<boolean> | boolean, ms = 15_000, everyMs = 100): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
};
