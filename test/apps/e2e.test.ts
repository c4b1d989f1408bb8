/**
 * Apps end to end with real crun replicas on the real linux network
 * service, driven through the public API and the router: deploy busybox
 * httpd with 2 replicas, route by host name, scale to 3, a rolling update
 * under a continuous load loop with zero failed requests, a killed replica
 * replaced, logs of all replicas, rollback, delete. Kernel objects carry
 * the prefix `yap`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Agent } from 'node:http';
import { test } from 'node:test';
import { resolveConfig } from '../../src/core/config.ts';
import { metadataTarget, networkModule } from '../../src/network/module.ts';
import { requireCapability } from '../helpers/capability.ts';
import { needLinux, rmrf, scrub, tmp } from '../network-service/helpers.ts';
import { type AppsCloud, buildImage, httpGet, startAppsCloud } from './helpers.ts';

const PREFIX = 'yap';

type AppR = { spec: Record<string, unknown>; status: { state?: string; readyReplicas?: number; currentRevision?: number; replicas?: number; message?: string } };

const serve = ['/bin/sh', '-c', 'mkdir -p /www && echo "$(hostname) $VERSION" > /www/index.html && echo "serving $VERSION" && exec httpd -f -p 8080 -h /www'];

async function waitApp(c: AppsCloud['c'], name: string, ok: (a: AppR) => boolean, ms = 120_000): Promise<AppR> {
  const end = Date.now() + ms;
  let last: AppR | undefined;
  while (Date.now() < end) {
    last = await c.request<AppR>('GET', `/v1/apps/${name}`);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  const logs = await fetch(`${c.endpoint}/v1/apps/${name}/logs?tailBytes=2000`, { headers: { authorization: `Bearer ${c.token}`, 'x-yun-project': 'default' } }).then((r) => r.text()).catch(() => '');
  const insts = await c.request<{ items: { name: string; status: unknown }[] }>('GET', `/v1/apps/${name}/replicas`).catch(() => ({ items: [] }));
  throw new Error(`app ${name} did not converge: ${JSON.stringify(last?.status)}\nlogs:\n${logs}\nreplicas: ${JSON.stringify(insts.items.map((i) => [i.name, i.status]))}`);
}

test('apps on crun: router, scale, zero-failure rolling update, crash replacement, logs, rollback, delete', { timeout: 900_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  if (!requireCapability(t, existsSync('/usr/bin/crun') || existsSync('/usr/sbin/runc'), 'crun or runc is not installed (apt-get install crun)')) return;
  await scrub(PREFIX);
  const stateDir = await tmp('yun-apps-e2e-state-');
  let cc: AppsCloud | undefined;
  const start = (home?: string) => startAppsCloud({
    home,
    apps: { drainGraceMs: 500 },
    before: async (h) => {
      const config = resolveConfig({ home: h }, {});
      const md = await metadataTarget(config);
      const net = await networkModule(config, { driver: 'linux', prefix: PREFIX, stateDir, resyncMs: 500, metadata: () => md });
      return { modules: [net], compute: { driver: 'oci', networking: net.networking, metadataPort: md.port } };
    },
  });
  try {
    cc = await start();
    let c = cc.c;
    let port = cc.routerPort();
    const host = 'hello.default.apps.localhost';
    await buildImage(c, 'busybox', 'busybox');

    const t0 = Date.now();
    await c.request('POST', '/v1/apps', { body: { name: 'hello', spec: {
      image: 'busybox', port: 8080, replicas: 2, command: serve, env: { VERSION: 'v1' }, cpus: 0.2, memoryMb: 64,
      healthCheck: { type: 'http', path: '/', intervalSeconds: 0.5, timeoutSeconds: 0.5, unhealthyThreshold: 2 },
      strategy: { maxSurge: 1, maxUnavailable: 0 }, domains: ['hello.example.test'],
    } } });
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.readyReplicas === 2);
    t.diagnostic(`2 replicas available after ${Date.now() - t0} ms`);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await httpGet(port, host);
      assert.equal(r.status, 200);
      seen.add(r.body.trim());
    }
    assert.equal(seen.size, 2, `round robin over two replicas: ${[...seen]}`);
    assert.ok([...seen].every((s) => s.endsWith(' v1')));
    assert.equal((await httpGet(port, 'hello.example.test')).status, 200, 'custom domain');
    assert.equal((await httpGet(port, 'nope.default.apps.localhost')).status, 404);

    // scale 2 → 3
    await c.request('POST', '/v1/apps/hello/scale', { body: { replicas: 3 } });
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.readyReplicas === 3);
    seen.clear();
    for (let i = 0; i < 9; i++) seen.add((await httpGet(port, host)).body.trim());
    assert.equal(seen.size, 3);

    // restarting yun adopts the running replicas: none is restarted or recreated
    const pids = async () => Object.fromEntries((await c.request<{ items: { name: string; status: { pid?: number } }[] }>('GET', '/v1/apps/hello/replicas')).items.map((i) => [i.name, i.status.pid]));
    const before = await pids();
    await cc.stop({ keepWorkloads: true });
    cc = await start(cc.home);
    c = cc.c;
    port = cc.routerPort();
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.readyReplicas === 3, 60_000);
    assert.deepEqual(await pids(), before, 'same replicas, same processes after a restart');
    assert.equal((await httpGet(port, host)).status, 200);

    // rolling update under continuous load: zero failed requests
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let ok = 0;
    const failures: string[] = [];
    const versions = new Set<string>();
    let loading = true;
    const worker = async () => {
      while (loading) {
        try {
          const r = await httpGet(port, host, agent);
          if (r.status === 200) { ok++; versions.add(r.body.trim().split(' ')[1]!); } else failures.push(`HTTP ${r.status}: ${r.body.trim()}`);
        } catch (e) { failures.push((e as Error).message); }
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    await new Promise((r) => setTimeout(r, 500));
    const cur = await c.request<AppR>('GET', '/v1/apps/hello');
    const t1 = Date.now();
    await c.request('PUT', '/v1/apps/hello', { body: { spec: { ...cur.spec, env: { VERSION: 'v2' } } } });
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.currentRevision === 2 && a.status.replicas === 3 && a.status.readyReplicas === 3);
    const rollMs = Date.now() - t1;
    await new Promise((r) => setTimeout(r, 500));
    loading = false;
    await load;
    agent.destroy();
    t.diagnostic(`rollout of 3 replicas: ${rollMs} ms; ${ok} requests during it, ${failures.length} failed`);
    assert.deepEqual(failures, [], 'no failed request during the rollout');
    assert.ok(ok > 50, `load loop ran (${ok})`);
    assert.deepEqual([...versions].sort(), ['v1', 'v2']);
    for (let i = 0; i < 6; i++) assert.match((await httpGet(port, host)).body, / v2$/m);

    // status carries router traffic figures
    const st = await c.request<{ traffic: { totalRequests: number; p95Ms: number } }>('GET', '/v1/apps/hello/status');
    assert.ok(st.traffic.totalRequests >= ok && st.traffic.p95Ms > 0);

    // a killed replica process is restarted/replaced and the app is Available again
    const reps = (await c.request<{ items: { name: string; status: { pid?: number; restartCount?: number } }[] }>('GET', '/v1/apps/hello/replicas')).items;
    const victim = reps[0]!;
    assert.ok(victim.status.pid, 'replica has a pid');
    process.kill(victim.status.pid!, 'SIGKILL');
    await waitApp(c, 'hello', (a) => a.status.readyReplicas! < 3 || a.status.state !== 'Available', 20_000).catch(() => undefined);
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.readyReplicas === 3, 60_000);
    const after = (await c.request<{ items: { name: string; status: { restartCount?: number; pid?: number } }[] }>('GET', '/v1/apps/hello/replicas')).items;
    const back = after.find((r) => r.name === victim.name);
    assert.ok(!back || (back.status.restartCount ?? 0) >= 1 || back.status.pid !== victim.status.pid, 'the killed replica was restarted or replaced');

    // logs of all replicas, prefixed
    const logs = await fetch(`${c.endpoint}/v1/apps/hello/logs`, { headers: { authorization: `Bearer ${c.token}`, 'x-yun-project': 'default' } }).then((r) => r.text());
    assert.match(logs, /^\[hello-r2-[0-9a-f]+\] serving v2$/m, logs);

    // rollback to revision 1
    await c.request('POST', '/v1/apps/hello/rollback', { body: {} });
    await waitApp(c, 'hello', (a) => a.status.state === 'Available' && a.status.currentRevision === 1 && a.status.replicas === 3);
    assert.match((await httpGet(port, host)).body, / v1$/m);

    // delete: every replica goes, then the app
    await c.request('DELETE', '/v1/apps/hello');
    const end = Date.now() + 60_000;
    while (Date.now() < end && await c.request('GET', '/v1/apps/hello').then(() => true, () => false)) await new Promise((r) => setTimeout(r, 200));
    const left = (await c.request<{ items: { labels: Record<string, string> }[] }>('GET', '/v1/instances')).items.filter((i) => i.labels.app === 'hello');
    assert.equal(left.length, 0);
    assert.equal((await httpGet(port, host)).status, 404);
  } finally {
    await cc?.stop();
    await scrub(PREFIX);
    await rmrf(stateDir);
  }
});
