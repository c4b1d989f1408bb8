/**
 * A cloud with real crun instances on the linux network driver, wired as
 * `defaultModules` wires them (network → compute → apps → monitor →
 * autoscale), for the elasticity e2e test and benchmark. Kernel objects
 * carry `prefix`; `stop` removes every workload, namespace and temp dir.
 */
import { request } from 'node:http';
import { type AppsModule, appsModule } from '../../src/apps/module.ts';
import { type AutoscaleModule, autoscaleModule } from '../../src/autoscale/module.ts';
import { type ComputeModule, computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { type MonitorModule, monitorModule } from '../../src/monitor/module.ts';
import { metadataTarget, networkModule } from '../../src/network/module.ts';
import { AutoscaleApi } from '../../src/sdk/autoscale.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { buildImage } from '../compute/helpers.ts';
import { rmrf, scrub, tmp } from '../network-service/helpers.ts';

export interface CrunCloud {
  tc: TestCloud;
  c: YunClient;
  api: AutoscaleApi;
  compute: ComputeModule;
  apps: AppsModule;
  monitor: MonitorModule;
  autoscale: AutoscaleModule;
  stop(): Promise<void>;
}

/** busybox httpd answering `hello` on 8080. */
export const SERVE = ['/bin/sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www'];

export async function startCrunCloud(prefix: string, o: { metricsIntervalMs?: number; evalMs?: number; tickMs?: number } = {}): Promise<CrunCloud> {
  await scrub(prefix);
  const home = await tmp('yun-elastic-crun-');
  const stateDir = await tmp('yun-elastic-crun-net-');
  let tc: TestCloud | undefined;
  let compute: ComputeModule | undefined;
  let apps: AppsModule | undefined;
  let monitor: MonitorModule | undefined;
  let autoscale: AutoscaleModule | undefined;
  const stop = async () => {
    await autoscale?.stop().catch(() => undefined);
    await monitor?.stop().catch(() => undefined);
    await apps?.controller?.stop().catch(() => undefined);
    if (compute) {
      await compute.controller?.stop().catch(() => undefined);
      for (const w of await compute.driver.list().catch(() => [])) await compute.driver.delete(w.id).catch(() => undefined);
    }
    await tc?.stop().catch(() => undefined);
    await scrub(prefix);
    await rmrf(home);
    await rmrf(stateDir);
  };
  try {
    const config = resolveConfig({ home }, {});
    const md = await metadataTarget(config);
    const net = await networkModule(config, { driver: 'linux', prefix, stateDir, resyncMs: 500, metadata: () => md });
    const cm = computeModule(config, { networking: net.networking, metadataPort: md.port, stopTimeoutMs: 2000, pollMs: 200 });
    compute = cm;
    const am = appsModule(config, { compute: cm, routerPort: 0, resyncMs: 500, drainGraceMs: 200 });
    apps = am;
    monitor = monitorModule(config, { stats: () => cm.driver, router: () => am.metrics, intervalMs: o.metricsIntervalMs ?? 1000 });
    autoscale = autoscaleModule(config, { db: monitor.db, images: () => cm.images, router: () => am.metrics, evalMs: o.evalMs ?? 1000, tickMs: o.tickMs ?? 100, groupResyncMs: 500 });
    tc = await startTestCloud({ home, keepHome: true, modules: [net, cm, am, monitor, autoscale] });
    const c = tc.admin;
    await buildImage(c, 'busybox', 'busybox');
    // The router reaches replicas from the host: the project's default group must let it in
    // (the apps service does not open this by itself yet).
    const na = new NetworkApi(c);
    await na.networks.list();
    await na.securityGroups.addRule('default', 'ingress tcp 8080 0.0.0.0/0');
    return { tc, c, api: new AutoscaleApi(c), compute: cm, apps: am, monitor, autoscale, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** GET through the router with a Host header (fetch does not let a caller set Host). */
export const get = (url: string, host: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
  const req = request(url, { headers: { host }, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('error', reject);
  req.end();
});

export type AppView = { spec: { replicas: number }; status: { readyReplicas?: number; url?: string } };

/** The router URL (loopback) and Host header of an app. */
export async function routerTarget(c: YunClient, app: string): Promise<{ url: string; host: string }> {
  const a = (await c.resource('apps').get(app)) as unknown as AppView;
  const u = new URL(a.status.url!);
  return { url: `http://127.0.0.1:${u.port}/`, host: u.host };
}
