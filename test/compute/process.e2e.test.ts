/** The process driver path through the API: a real supervised host process, its limits gaps stated in status. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { compute } from '../../src/sdk/compute.ts';
import { requireCapability } from '../helpers/capability.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from './helpers.ts';

describe('compute e2e (process driver)', () => {
  let cc: ComputeCloud | undefined;
  const ok = existsSync('/usr/bin/prlimit') && existsSync('/bin/busybox');
  before(async () => {
    if (!ok) return;
    cc = await startComputeCloud({ compute: { driver: 'process' } });
    await buildImage(cc.c, 'busybox', 'busybox');
  });
  after(async () => { await cc?.stop(); });

  it('runs, logs, reaches the metadata service by URL, exits with its code, says which isolation is missing', async (t) => {
    if (!requireCapability(t, ok, 'needs prlimit (util-linux) and busybox-static')) return;
    const vm = await compute(cc!.c).flavor('m1.tiny').launch({ name: 'p1', image: 'busybox', restartPolicy: 'never',
      command: ['sh', '-c', 'echo "id=$YUN_INSTANCE_ID"; sleep 0.5; exit 3'] });
    const r = await vm.waitFor('running', 20_000).catch(async () => vm.get());
    assert.equal(r.status.driver, 'process');
    assert.ok((r.status.isolationNotProvided ?? []).includes('pid'));
    const meta = await (await fetch(`${r.status.metadataUrl}latest/meta-data/instance-id`)).text();
    assert.equal(meta, r.id);
    const done = await cc!.c.resource('instances').waitFor('p1', (x) => x.status.state === 'exited', 20_000);
    assert.equal(done.status.exitCode, 3);
    assert.match(await vm.logs(), new RegExp(`id=${r.id}`));
    await vm.delete();
  });

  it('resize without live support: refused while running, stop-resize-start with allowRestart', async (t) => {
    if (!requireCapability(t, ok, 'needs prlimit (util-linux) and busybox-static')) return;
    const vm = await compute(cc!.c).flavor('m1.tiny').launch({ name: 'p2', image: 'busybox', command: ['sleep', '1000'] });
    const r = await vm.waitFor('running', 20_000);
    await assert.rejects(vm.resize({ flavor: 'm1.small' }), /cannot resize a running instance live/);
    await vm.resize({ flavor: 'm1.small', allowRestart: true });
    const done = await cc!.c.resource('instances').waitFor('p2', (x) => x.status.state === 'running' && (x.status.limits as { memoryMb?: number } | undefined)?.memoryMb === 2048, 20_000);
    assert.notEqual(done.status.pid, r.status.pid, 'restarted');
    await vm.delete();
  });
});
