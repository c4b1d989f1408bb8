/**
 * Limits and restart behaviour with REAL crun: a fork bomb stops at the
 * pids limit, a busy loop is throttled to its CPU quota, restart policies,
 * console log streaming (`logs -f`).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('compute limits and restarts (oci driver, real crun)', () => {
  let cc: ComputeCloud | undefined;
  const ok = isRoot() && (existsSync('/usr/bin/crun') || existsSync('/usr/bin/runc')) && existsSync('/bin/busybox');
  before(async () => {
    if (!ok) return;
    cc = await startComputeCloud({ compute: { driver: 'oci' } });
    await buildImage(cc.c, 'busybox', 'busybox');
    await cc.c.request('POST', '/v1/flavors', { body: { name: 't1.pids', spec: { vcpus: 1, ramMb: 128, diskGb: 1, pids: 32 } } });
  });
  after(async () => { await cc?.stop(); });
  const need = (t: import('node:test').TestContext) => requireCapability(t, ok, 'needs root, crun (or runc) and busybox-static');

  it('a fork bomb is stopped by the pids limit', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).flavor('t1.pids').launch({ name: 'bomb', image: 'busybox',
      command: ['sh', '-c', '(i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); done; echo spawned); exec sleep 300'] });
    await vm.waitFor('running', 30_000);
    let logs = '';
    for (let i = 0; i < 100 && !/spawned|can't fork|Resource temporarily unavailable/.test(logs); i++) { await sleep(100); logs = await vm.logs(); }
    let s = await vm.stats();
    for (let i = 0; i < 50 && s.pids < 20; i++) { await sleep(100); s = await vm.stats(); }
    assert.equal((await vm.get()).status.state, 'running', 'the instance itself survives');
    assert.ok(s.pids <= 32, `pids ${s.pids} > 32`);
    assert.ok(s.pids >= 20, `the bomb did fork (pids ${s.pids})`);
    assert.match(logs, /can't fork|Resource temporarily unavailable|fork/i);
    await vm.delete();
  });

  it('a busy loop is throttled to its CPU quota', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).launch({ name: 'spin', image: 'busybox', cpus: 0.2, memoryMb: 64, command: ['sh', '-c', 'while :; do :; done'] });
    await vm.waitFor('running', 30_000);
    await sleep(500);
    const a = await vm.stats();
    const t0 = Date.now();
    await sleep(3000);
    const b = await vm.stats();
    const used = (b.cpuSeconds - a.cpuSeconds) / ((Date.now() - t0) / 1000);
    assert.ok(used <= 0.2 * 1.3, `busy loop used ${used.toFixed(2)} CPUs with a 0.2 quota`);
    assert.ok(used > 0.02, `busy loop barely ran (${used.toFixed(3)} CPUs)`);
    await vm.delete();
  });

  it('restart policy on-failure restarts a crashing instance with backoff; never leaves it exited', async (t) => {
    if (!need(t)) return;
    const crash = await compute(cc!.c).launch({ name: 'crash', image: 'busybox', cpus: 0.1, memoryMb: 32, restartPolicy: 'on-failure', command: ['sh', '-c', 'echo boot; sleep 0.2; exit 7'] });
    const r = await cc!.c.resource('instances').waitFor('crash', (x) => Number(x.status.restartCount ?? 0) >= 2, 30_000);
    assert.ok(Number(r.status.restartCount) >= 2);
    assert.ok(((await crash.logs()).match(/boot/g) ?? []).length >= 3, 'console log kept across restarts');
    await crash.delete();
    const once = await compute(cc!.c).launch({ name: 'once', image: 'busybox', cpus: 0.1, memoryMb: 32, restartPolicy: 'never', command: ['sh', '-c', 'exit 4'] });
    const done = await cc!.c.resource('instances').waitFor('once', (x) => x.status.state === 'exited', 30_000);
    assert.equal(done.status.exitCode, 4);
    await sleep(1500);
    assert.equal((await once.get()).status.restartCount ?? 0, 0);
    await once.delete();
  });

  it('logs -f streams new console output as it is written', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).launch({ name: 'talker', image: 'busybox', cpus: 0.1, memoryMb: 32,
      command: ['sh', '-c', 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.2; done'] });
    await vm.waitFor('running', 30_000);
    const ac = new AbortController();
    let got = '';
    const done = vm.followLogs((s) => { got += s; if (/line 4\b/.test(got)) ac.abort(); }, { signal: ac.signal }).catch((e: Error) => {
      if (e.name !== 'AbortError') throw e;
    });
    await Promise.race([done, sleep(15_000)]);
    assert.match(got, /line 0[\s\S]*line 4/);
    await vm.delete();
  });
});
