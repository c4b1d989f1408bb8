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

describe('InstanceController.reconcile', () => {
  it('schedules and starts, adopts without a second start, stops, and finalizes deletion', async () => {
    const fake = new FakeHost();
    const driver = new FakeDriver({ host: fake });
    const cc = await startComputeCloud({ compute: { driver, controller: false } });
    try {
      await buildImage(cc.c, 'busybox', 'busybox');
      const ctx = cc.tc.cloud.ctx;
      const m = cc.mod;
      const make = () => new InstanceController({ store: ctx.store, bus: ctx.bus, log: ctx.log, identity: ctx.identity, driver, caps: m.caps!,
        scheduler: m.scheduler!, images: m.images!, networking: m.networking, metadata: m.metadata!, hostId: cc.tc.cloud.hostId });
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
