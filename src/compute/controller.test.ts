/**
 * The instance controller, one reconcile at a time against the fake driver:
 * each step states the driver actions it expects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compute } from '../sdk/compute.ts';
import { buildImage, startComputeCloud } from '../../test/compute/helpers.ts';
import { InstanceController } from './controller.ts';
import { FakeDriver, FakeHost } from './drivers/fake/driver.ts';
import { VmLikeFake } from './drivers/fake/vm-like.ts';
import type { WorkloadStatus } from './drivers/types.ts';

/** A compute cloud on `driver` with its own controller off, the busybox image built, and a way to make controllers by hand. */
async function controllerCloud(driver: FakeDriver) {
  const cc = await startComputeCloud({ compute: { driver, controller: false } });
  await buildImage(cc.c, 'busybox', 'busybox');
  const ctx = cc.tc.cloud.ctx;
  const m = cc.mod;
  const make = () => new InstanceController({ store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, driver, caps: m.caps!,
    scheduler: m.scheduler!, images: m.images!, networking: m.networking, metadata: m.metadata!, hostId: cc.tc.cloud.hostId });
  return { cc, make };
}

describe('InstanceController.reconcile', () => {
  it('schedules and starts, adopts without a second start, stops, and finalizes deletion', async () => {
    const fake = new FakeHost();
    const driver = new FakeDriver({ host: fake });
    const { cc, make } = await controllerCloud(driver);
    try {
      const ctl = make();
      const vm = await compute(cc.c).flavor('m1.tiny').launch({ name: 'r1', image: 'busybox', command: ['sleep', '100000'] });
      const id = (await vm.get()).id;
      const calls = () => fake.calls.splice(0).filter((c) => !c.startsWith('inspect') && !c.startsWith('list') && !c.startsWith('capabilities'));

      assert.deepEqual(await ctl.reconcile(id), { requeueAfterMs: 1000 });
      assert.deepEqual(calls().map((c) => c.split(' ')[0]), ['create', 'start']);
      assert.equal((await vm.get()).status.state, 'running');

      // A second controller (a restart) adopts: no create, no start.
      const again = make();
      await again.reconcile(id);
      assert.deepEqual(calls(), []);

      await cc.c.request('POST', '/v1/instances/r1/actions/stop');
      await again.reconcile(id);
      assert.deepEqual(calls().map((c) => c.split(' ')[0]), ['stop']);
      assert.equal((await vm.get()).status.state, 'stopped');

      await vm.delete();
      await again.reconcile(id);
      assert.deepEqual(calls().map((c) => c.split(' ')[0]), ['delete']);
      await assert.rejects(vm.get(), /not found/);
      const q = await cc.c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/quotas');
      assert.equal(q.items.find((x) => x.resource === 'instances')!.used, 0);
    } finally {
      await cc.stop();
      fake.shutdown();
    }
  });
});

describe('resizing a workload with a live range (a VM)', () => {
  it('live inside the range; outside it 409 without allowRestart, and with it stop, resize in place, start (never delete and create)', async () => {
    const fake = new FakeHost();
    const driver = new VmLikeFake({ host: fake });
    const { cc, make } = await controllerCloud(driver);
    try {
      const ctl = make();
      const r = await cc.c.request<{ id: string }>('POST', '/v1/instances', { body: { name: 'v1', spec: { image: 'busybox', cpus: 1, memoryMb: 256, command: ['sleep', '100000'] } } });
      const vm = compute(cc.c).instance('v1');
      const calls = () => fake.calls.splice(0).filter((c) => !/^(inspect|list|capabilities)/.test(c)).map((c) => c.split(' ')[0]);
      await ctl.reconcile(r.id);
      assert.deepEqual(calls(), ['create', 'start']);
      assert.deepEqual((await vm.get()).status.liveResize, { vcpus: 1, minMemoryMb: 64, maxMemoryMb: 256 });

      await vm.resize({ memoryMb: 128 }); // cpus left out: kept
      await ctl.reconcile(r.id);
      assert.deepEqual(calls(), ['resize'], 'live');
      assert.equal((await vm.get()).status.limits?.memoryMb, 128);

      await assert.rejects(vm.resize({ cpus: 2, memoryMb: 128 }), (e: Error & { status?: number }) => e.status === 409 && /vCPU count changes \(1 → 2\).*allowRestart/.test(e.message));
      await assert.rejects(vm.resize({ cpus: 1, memoryMb: 512 }), /above the 256 MiB it was started with/);

      await vm.resize({ cpus: 2, memoryMb: 512, allowRestart: true });
      await ctl.reconcile(r.id);
      assert.deepEqual(calls(), ['stop', 'resize', 'start']);
      const after = await vm.get();
      assert.equal(after.status.state, 'running');
      assert.deepEqual([after.status.limits?.cpus, after.status.limits?.memoryMb, after.status.liveResize], [2, 512, { vcpus: 2, minMemoryMb: 64, maxMemoryMb: 512 }]);

      // stopped: any size without allowRestart, given before the next start
      await cc.c.request('POST', '/v1/instances/v1/actions/stop');
      await ctl.reconcile(r.id);
      await vm.resize({ cpus: 1, memoryMb: 1024 });
      await cc.c.request('POST', '/v1/instances/v1/actions/start');
      calls();
      await ctl.reconcile(r.id);
      assert.deepEqual(calls(), ['resize', 'start']);
      assert.equal((await vm.get()).status.limits?.memoryMb, 1024);
    } finally {
      await cc.stop();
      fake.shutdown();
    }
  });
});

describe('a workload that failed (a VM whose guest kernel panicked)', () => {
  it('ends in error with the driver\'s reason instead of exited', async () => {
    class PanickingFake extends FakeDriver {
      override async inspect(id: string): Promise<WorkloadStatus | undefined> {
        const w = await super.inspect(id);
        return w?.state === 'exited' ? { ...w, failure: 'guest kernel panic: sysrq triggered crash' } : w;
      }
    }
    const fake = new FakeHost();
    const driver = new PanickingFake({ host: fake });
    const { cc, make } = await controllerCloud(driver);
    try {
      const ctl = make();
      const vm = await compute(cc.c).flavor('m1.tiny').launch({ name: 'p1', image: 'busybox', command: ['sh', '-c', 'exit 0'] });
      const id = (await vm.get()).id;
      await ctl.reconcile(id);
      const end = Date.now() + 5000;
      while ((await driver.inspect(id))?.state !== 'exited' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      await ctl.reconcile(id);
      const st = (await vm.get()).status;
      assert.equal(st.state, 'error');
      assert.equal(st.reason, 'guest kernel panic: sysrq triggered crash');
    } finally {
      fake.shutdown();
      await cc.stop();
    }
  });
});

describe('a host whose driver is unavailable', () => {
  it('reports the reason in the instance status instead of failing at every retry', async () => {
    const fake = new FakeHost();
    const cc = await startComputeCloud({ compute: { driver: new FakeDriver({ host: fake, capabilities: { available: false, reason: 'neither crun nor runc found (apt-get install crun)' } }) } });
    try {
      await buildImage(cc.c, 'busybox', 'busybox');
      await compute(cc.c).flavor('m1.tiny').launch({ name: 'nocrun', image: 'busybox' });
      const r = await cc.c.resource('instances').waitFor('nocrun', (x) => x.status.state === 'error', 10_000);
      assert.match(String(r.status.reason), /neither crun nor runc found/);
      assert.equal(fake.workloads.size, 0);
      assert.deepEqual(cc.mod.describe()['compute backend']?.startsWith('unavailable'), true);
    } finally {
      await cc.stop();
      fake.shutdown();
    }
  });
});
