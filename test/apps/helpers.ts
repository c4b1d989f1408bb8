/**
 * A listening test cloud with compute (any driver), optionally the network
 * service, and the apps module on a temp home; `stop` deletes every
 * workload first so nothing leaks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { type Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppsModule, type AppsOptions, appsModule } from '../../src/apps/module.ts';
import { type ComputeModule, type ComputeOptions, computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import type { ServiceModule } from '../../src/services.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';

export { buildImage } from '../compute/helpers.ts';

export interface AppsCloud {
  tc: TestCloud;
  compute: ComputeModule;
  apps: AppsModule;
  c: YunClient;
  home: string;
  routerPort: () => number;
  /** Without `keepWorkloads`: deletes every workload and the home. With it: a restart can adopt them. */
  stop(o?: { keepWorkloads?: boolean }): Promise<void>;
}

export interface AppsCloudOptions {
  compute?: ComputeOptions;
  apps?: AppsOptions;
  before?: (home: string) => Promise<{ modules: ServiceModule[]; compute?: ComputeOptions }>;
  /** Start on an existing home (a restart). */
  home?: string;
}

export async function startAppsCloud(o: AppsCloudOptions = {}): Promise<AppsCloud> {
  const home = o.home ?? await mkdtemp(join(tmpdir(), 'yun-apps-'));
  const config = resolveConfig({ home }, {});
  const pre = o.before ? await o.before(home) : { modules: [] };
  const compute = computeModule(config, { stopTimeoutMs: 2000, pollMs: 200, ...o.compute, ...pre.compute });
  const apps = appsModule(config, { compute, routerPort: 0, resyncMs: 1000, ...o.apps });
  const tc = await startTestCloud({ home, modules: [...pre.modules, compute, apps], keepHome: true });
  return {
    tc, compute, apps, c: tc.admin, home, routerPort: () => apps.router.port,
    stop: async (s = {}) => {
      if (s.keepWorkloads) return tc.stop();
      await apps.controller?.stop();
      await compute.controller?.stop();
      for (const w of await compute.driver.list()) await compute.driver.delete(w.id);
      await tc.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** GET / through the router with a Host header. */
export function httpGet(port: number, host: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const r = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      res.on('error', fail);
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', fail);
    r.end();
  });
}

