/**
 * End-to-end through the API with REAL crun (oci driver): lifecycle, logs,
 * exec, metadata, limits (OOM kill, live resize), restart adoption.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type ComputeCloud, buildImage, startComputeCloud, waitState } from './helpers.ts';

const hasCrun = existsSync('/usr/bin/crun') || existsSync('/usr/bin/runc');
const hasBusybox = existsSync('/bin/busybox');

describe('compute e2e (oci driver, real crun)', () => {
  let cc: ComputeCloud | undefined;
  let ok = false;
  before(async () => {
    ok = isRoot() && hasCrun && hasBusybox;
    if (!ok) return;
    cc = await startComputeCloud({ compute: { driver: 'oci' } });
    await buildImage(cc.c, 'busybox', 'busybox');
  });
  after(async () => { await cc?.stop(); });
  const need = (t: import('node:test').TestContext) => requireCapability(t, ok, 'needs root, crun (or runc) and busybox-static');

  it('runs an instance: running, hostname, env, command args without a shell, logs, exec, metadata file and server', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).flavor('m1.tiny').launch({
      name: 'web1', image: 'busybox', env: { GREETING: 'a;b $(x) `y`' },
      command: ['sh', '-c', 'echo "hello $GREETING"; echo "$1"; cat /run/yun/meta_data.json; sleep 1000', 'sh', '; rm -rf / #'],
      userData: '#!/bin/sh\necho user-data-ran > /tmp/ud\n',
    });
    const r = await vm.waitFor('running', 30_000);
    assert.ok(Number(r.status.pid) > 0);
    assert.equal(r.status.driver, 'oci');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('instance_id'); i++) { logs = await vm.logs(); await new Promise((x) => setTimeout(x, 100)); }
    assert.match(logs, /hello a;b \$\(x\) `y`/);
    assert.match(logs, /; rm -rf \/ #/);
    assert.match(logs, new RegExp(`"instance_id": "${r.id}"`));
    assert.equal((await vm.exec(['hostname'])).stdout.trim(), 'web1');
    assert.equal((await vm.exec(['cat', '/tmp/ud'])).stdout.trim(), 'user-data-ran');
    // metadata server, by the per-instance URL handed to the instance
    const url = String(r.status.metadataUrl);
    assert.equal(await (await fetch(`${url}latest/meta-data/instance-id`)).text(), r.id);
    assert.match(await (await fetch(`${url}latest/user-data`)).text(), /user-data-ran/);
    const doc = await (await fetch(`${url}openstack/latest/meta_data.json`)).json() as { name: string; flavor: string };
    assert.equal(doc.name, 'web1');
    assert.equal(doc.flavor, 'm1.tiny');
    assert.equal((await fetch(`${url.replace(/\.[0-9a-f]+\/$/, '.0000/')}latest/meta-data/instance-id`)).status, 403);
    const stats = await vm.stats();
    assert.ok(stats.memoryBytes > 0 && stats.pids >= 1);
    // stop / start / delete
    await vm.stop();
    await vm.waitFor('stopped', 20_000);
    await vm.start();
    const again = await vm.waitFor('running', 20_000);
    assert.notEqual(again.status.pid, r.status.pid);
    await vm.delete();
    await cc!.c.resource('instances').waitFor('web1', () => false, 1).catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      if (!(await cc!.mod.driver.inspect(r.id))) break;
      await new Promise((x) => setTimeout(x, 100));
    }
    assert.equal(await cc!.mod.driver.inspect(r.id), undefined, 'workload removed after delete');
    await assert.rejects(vm.get(), /not found/);
  });

  it('a memory hog is OOM-killed and reported as OOMKilled', async (t) => {
    if (!need(t)) return;
    await cc!.c.request('POST', '/v1/instances', { body: { name: 'hog', spec: { image: 'busybox', cpus: 1, memoryMb: 32, restartPolicy: 'never',
      command: ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'] } } });
    const r = await waitState(cc!.c, 'hog', ['OOMKilled', 'exited', 'error'], 60_000);
    assert.equal(r.status.state, 'OOMKilled', JSON.stringify(r.status));
    assert.equal(r.status.oomKilled, true);
    await cc!.c.request('DELETE', '/v1/instances/hog');
  });

  it('live resize raises the memory limit of a running container without restarting it', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).launch({ name: 'grow', image: 'busybox', cpus: 1, memoryMb: 64 });
    const r = await vm.waitFor('running', 30_000);
    // dd with a 100 MiB block buffer touches 100 MiB: killed under 64 MiB, fine once the limit is 256 MiB.
    const dd = () => vm.exec(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1']);
    assert.notEqual((await dd()).exitCode, 0, 'the 64 MiB limit is enforced');
    await vm.resize({ cpus: 1, memoryMb: 256 });
    let res = await dd();
    for (let i = 0; i < 30 && res.exitCode !== 0; i++) { await new Promise((x) => setTimeout(x, 100)); res = await dd(); }
    assert.equal(res.exitCode, 0, `dd after resize: ${res.stderr}`);
    const after = await vm.get();
    assert.equal(after.status.pid, r.status.pid, 'same process: no restart');
    assert.equal(after.spec.size?.ramMb, 256);
    // a resize the host cannot hold is refused with a reason
    await assert.rejects(vm.resize({ cpus: 1, memoryMb: 64 * 1024 * 1024 }), /no room|memoryMb/);
    await vm.delete();
  });

  it('restart adoption: a new cloud on the same home adopts the running container (same pid, no duplicate)', async (t) => {
    if (!need(t)) return;
    const vm = await compute(cc!.c).flavor('m1.tiny').launch({ name: 'survivor', image: 'busybox' });
    const r = await vm.waitFor('running', 30_000);
    const home = cc!.home;
    await cc!.stop({ keepWorkloads: true });
    cc = await startComputeCloud({ home, compute: { driver: 'oci' } });
    const again = await compute(cc.c).instance('survivor').waitFor('running', 30_000);
    await new Promise((x) => setTimeout(x, 1000));
    const later = await compute(cc.c).instance('survivor').get();
    assert.equal(later.status.pid, r.status.pid);
    assert.equal(again.status.pid, r.status.pid);
    const ws = (await cc.mod.driver.list()).filter((w) => w.id === r.id);
    assert.equal(ws.length, 1);
    assert.equal(ws[0]!.pid, r.status.pid);
    assert.equal(later.status.restartCount ?? 0, 0);
    // The metadata service came back on the same port: the URL the instance was given still answers.
    assert.equal(later.status.metadataUrl, r.status.metadataUrl);
    assert.equal(await (await fetch(`${later.status.metadataUrl}latest/meta-data/instance-id`)).text(), r.id);
  });
});
