/**
 * Elasticity end to end with real crun instances on the linux network
 * driver, wired as `defaultModules` wires them (network → compute → apps →
 * monitor → autoscale), driven through the public API:
 *  - an app under open-loop load scales out (new replicas serve traffic)
 *    and back in only after the scale-down window;
 *  - an instance group keeps its size when a member is deleted;
 *  - an app with min 0 goes to zero when idle, and a request wakes it;
 *  - the collector records real cgroup CPU/memory for the replicas.
 * Kernel objects carry the prefix `yas`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { runLoad } from '../../src/monitor/loadgen.ts';
import { requireCapability } from '../helpers/capability.ts';
import { needLinux } from '../network-service/helpers.ts';
import { type AppView as App, SERVE, get, routerTarget, startCrunCloud } from './crun-cloud.ts';
import { waitFor } from './helpers.ts';

const PREFIX = 'yas';

test('elasticity with real crun replicas: scale out and in, groups, scale to zero', { timeout: 600_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  if (!requireCapability(t, existsSync('/usr/bin/crun') || existsSync('/usr/sbin/runc'), 'crun or runc is not installed (apt-get install crun)')) return;
  const cc = await startCrunCloud(PREFIX);
  try {
    const { c, api } = cc;
    const app = async (n: string) => (await c.resource('apps').get(n)) as unknown as App;
    const target = (n: string) => routerTarget(c, n);

    await t.test('an app under load scales out, serves from the new replicas, and scales in after the window', async () => {
      await c.resource('apps').create('shop', { image: 'busybox', port: 8080, replicas: 1, command: SERVE, cpus: 0.25, memoryMb: 64, healthCheck: { type: 'http', path: '/', intervalSeconds: 1 } });
      assert.ok(await waitFor(async () => (await app('shop')).status.readyReplicas === 1, 120_000), 'first replica ready');
      await api.setPolicy('shop', { minReplicas: 1, maxReplicas: 4, metrics: [{ type: 'rps-per-replica', target: 20 }], behavior: { scaleDownStabilizationSeconds: 8 } });
      const tgt = await target('shop');
      const onset = Date.now();
      let readyAt = 0;
      const watch = (async () => {
        while (!readyAt && Date.now() - onset < 40_000) {
          if (((await app('shop')).status.readyReplicas ?? 0) >= 3) readyAt = Date.now();
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const load = await runLoad({ ...tgt, rps: 60, durationMs: 15_000 });
      await watch;
      t.diagnostic(`load: ${load.completed} requests, ${load.errors} errors, p95 ${load.latencyMs.p95} ms; 3 replicas ready ${readyAt ? readyAt - onset : 'never'} ms after the load step`);
      assert.ok(readyAt > 0, 'three replicas ready under load');
      assert.ok(load.errors <= load.sent * 0.01, `errors stay under 1 % while scaling out: ${JSON.stringify(load.statusCounts)}`);
      const outEvents = (await api.policies.get('shop')).status.events ?? [];
      assert.ok(outEvents.some((e) => e.to >= 3), JSON.stringify(outEvents));
      // Load stopped: nothing leaves before the 8 s window, everything extra leaves after it.
      const stopAt = Date.now();
      let firstDrop = 0;
      assert.ok(await waitFor(async () => {
        const n = (await app('shop')).spec.replicas;
        if (n < 3 && !firstDrop) firstDrop = Date.now();
        return n === 1;
      }, 60_000, 200), 'back to one replica');
      t.diagnostic(`scale-in began ${firstDrop - stopAt} ms after the load stopped (window 8 s)`);
      assert.ok(firstDrop - stopAt >= 6000, `no scale-in before the window (${firstDrop - stopAt} ms)`);
      const ev = (await api.policies.get('shop')).status.events ?? [];
      const flips = ev.filter((e, i) => i > 0 && Math.sign(e.to - e.from) !== Math.sign(ev[i - 1]!.to - ev[i - 1]!.from)).length;
      assert.ok(flips <= 1, `one direction change (out, then in): ${JSON.stringify(ev.map((e) => `${e.from}>${e.to}`))}`);
    });

    await t.test('the collector records cgroup CPU and memory of the replicas; Prometheus text has them', async () => {
      assert.ok(await waitFor(async () => (await api.query('memory_bytes{app="shop"}', { since: '30s' })).result.length > 0, 15_000));
      const cpu = await api.query('rate(cpu_usage{app="shop"}[10s])', { since: '1m', step: '5s' });
      assert.ok(cpu.result.length >= 1);
      const mem = await api.query('max(memory_bytes{app="shop"})', { since: '30s' });
      assert.ok((mem.result[0]?.values.at(-1)?.[1] ?? 0) > 100_000, 'a real cgroup memory figure');
      assert.match(await api.prometheus(), /^http_requests_total\{app="shop",project="[^"]+"\} \d+/m);
      const rec = await api.recommend('shop', '5m');
      assert.notEqual(rec.change, 'upsize', JSON.stringify(rec));
    });

    await t.test('an instance group keeps its size when a member is deleted', async () => {
      await api.groups.create('workers', { image: 'busybox', cpus: 0.1, memoryMb: 32, command: ['sleep', '3600'], size: 2 });
      const members = async () => (await c.resource('instances').list({ labelSelector: 'yun-group=workers' })).items.filter((i) => !(i as { deletionTimestamp?: string }).deletionTimestamp);
      assert.ok(await waitFor(async () => (await members()).filter((m) => m.status.state === 'running').length === 2, 120_000));
      const victim = (await members())[0]!.name;
      await c.resource('instances').delete(victim);
      assert.ok(await waitFor(async () => {
        const ms = await members();
        return ms.length === 2 && !ms.some((m) => m.name === victim) && ms.every((m) => m.status.state === 'running');
      }, 120_000), 'replaced with a running member');
      await api.groups.delete('workers');
      assert.ok(await waitFor(async () => (await members()).length === 0 && !(await api.groups.list()).items.length, 60_000), 'group and members gone');
    });

    await t.test('scale to zero when idle; a request wakes it', async () => {
      await api.setPolicy('shop', { minReplicas: 0, maxReplicas: 2, metrics: [{ type: 'rps-per-replica', target: 20 }], behavior: { scaleDownStabilizationSeconds: 2, idleToZeroSeconds: 3 } });
      assert.ok(await waitFor(async () => (await app('shop')).spec.replicas === 0, 60_000), 'scaled to zero');
      assert.ok(await waitFor(async () => ((await app('shop')).status.readyReplicas ?? 0) === 0, 30_000));
      const tgt = await target('shop');
      const t0 = Date.now();
      let first = 0;
      let body = '';
      while (Date.now() - t0 < 60_000) {
        const r = await get(tgt.url, tgt.host).catch(() => undefined);
        first ||= r?.status ?? -1;
        if (r?.status === 200) { body = r.body; break; }
        await new Promise((res) => setTimeout(res, 100));
      }
      t.diagnostic(`woke from zero in ${Date.now() - t0} ms; the first request answered ${first}`);
      assert.equal(body.trim(), 'hello');
      assert.equal(first, 200, 'the router held the first request while the replica started');
      const evs = (await api.policies.get('shop')).status.events ?? [];
      assert.ok(evs.some((e) => e.from === 0 && e.to >= 1 && /waking/.test(e.reason)), JSON.stringify(evs.slice(-3)));
      await api.policies.delete('shop');
      await c.resource('apps').delete('shop');
    });
  } finally {
    await cc.stop();
  }
});
