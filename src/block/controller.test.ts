/**
 * The block controller, one reconcile at a time: each case states the
 * volume-driver actions it expects, runs one reconcile, and checks the
 * actions and the status written. Real file driver (sparse files), real
 * store; no workloads (the live-snapshot case has a stand-in for the qemu
 * driver, whose real copy is tested in test/vm/live-snapshot.test.ts).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { Resources } from '../store/resources.ts';
import { type TestCloud, startTestCloud } from '../../test/helpers/cloud.ts';
import type { ComputeDriver } from '../compute/drivers/types.ts';
import type { QemuDriver, VolumeCopyTarget } from '../compute/drivers/qemu/index.ts';
import { BlockController, type BlockControllerDeps } from './controller.ts';
import { FileVolumeDriver, Qcow2VolumeDriver, type VolumeDriver } from './drivers/index.ts';
import { blockModule } from './module.ts';
import type { SnapshotStatus, VolumeSpec, VolumeStatus } from './types.ts';

const MUTATING = new Set(['create', 'delete', 'extend', 'createSnapshot', 'createLiveSnapshot', 'deleteSnapshot']);

/** The real driver, recording its mutating calls as `method arg…`. */
function recording(d: VolumeDriver, log: string[]): VolumeDriver {
  return new Proxy(d, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function' || !MUTATING.has(String(prop))) return typeof v === 'function' ? v.bind(target) : v;
      return (...args: unknown[]) => {
        log.push([String(prop), ...args.filter((a) => typeof a !== 'object' && typeof a !== 'function').map(String)].join(' '));
        return v.apply(target, args);
      };
    },
  });
}

describe('BlockController.reconcile', () => {
  let home = '';
  let tc: TestCloud;
  let ctl: BlockController;
  const actions: string[] = [];
  const res = () => new Resources(tc.cloud.ctx.store);
  const take = () => actions.splice(0);
  /** What the controller sees of compute: a VM `vm-1` in `vmState`, whose copyVolume is recorded and done with cp. */
  let vmState: 'running' | 'exited' = 'running';
  const qemu = {
    inspect: async (id: string) => (id === 'inst-vm1' ? { id, state: vmState } : undefined),
    copyVolume: async (id: string, volumeId: string, target: VolumeCopyTarget) => {
      actions.push(`copyVolume ${id} ${volumeId} ${target.format} ${target.sync}`);
      await copyFile(join(home, 'file', 'volumes', `${volumeId}.img`), target.path);
    },
  };
  let computeDeps: ReturnType<BlockControllerDeps['compute']>;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'yun-block-ctl-'));
    const config = resolveConfig({ home }, {});
    tc = await startTestCloud({ home, modules: [blockModule(config, { controller: false })], keepHome: true });
    const c = tc.cloud.ctx;
    ctl = new BlockController({
      store: c.store, bus: c.bus, log: createLogger('silent'), identity: c.identity, mountDir: join(home, 'mnt'), compute: () => computeDeps, imageRootfs: (id) => join(home, 'images', id, 'rootfs'),
      drivers: { file: recording(new FileVolumeDriver({ root: join(home, 'file') }), actions), qcow2: recording(new Qcow2VolumeDriver({ root: join(home, 'qcow2') }), actions) },
    });
  });
  after(async () => {
    await tc.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('a new volume: create, then available with the driver\'s figures; a second reconcile does nothing', async () => {
    const v = await tc.admin.request<{ id: string }>('POST', '/v1/volumes', { body: { name: 'v1', spec: { sizeGb: 0.5 } } });
    await ctl.reconcile(v.id);
    assert.deepEqual(take(), [`create ${v.id} 0.5`]);
    const st = (await res().getById<unknown, VolumeStatus>(v.id))!.status;
    assert.equal(st.state, 'available');
    assert.equal(st.sizeGb, 0.5);
    assert.equal(st.format, 'raw');
    await ctl.reconcile(v.id);
    assert.deepEqual(take(), []);
  });

  it('extend: one extend to the new size', async () => {
    await tc.admin.request('POST', '/v1/volumes/v1/actions/extend', { body: { sizeGb: 1 } });
    const v = (await res().get('volume', (await tc.cloud.ctx.identity.requireProject('default')).id, 'v1'))!;
    await ctl.reconcile(v.id);
    assert.deepEqual(take(), [`extend ${v.id} 1`]);
    assert.equal((await res().getById<unknown, VolumeStatus>(v.id))!.status.sizeGb, 1);
  });

  it('snapshot: one createSnapshot of the volume, then available with its type', async () => {
    const s = await tc.admin.request<{ id: string; spec: { volumeId: string } }>('POST', '/v1/volume-snapshots', { body: { name: 's1', spec: { volume: 'v1' } } });
    await ctl.reconcile(s.id);
    assert.deepEqual(take(), [`createSnapshot ${s.spec.volumeId} ${s.id}`]);
    const st = (await res().getById<unknown, SnapshotStatus>(s.id))!.status;
    assert.deepEqual([st.state, st.type, st.sizeGb], ['available', 'file', 1]);
  });

  it('delete: the driver deletes the bytes, the row goes, quota is released', async () => {
    const v = await tc.admin.request<{ id: string }>('DELETE', '/v1/volumes/v1');
    await ctl.reconcile(v.id);
    assert.deepEqual(take(), [`delete ${v.id}`]);
    assert.equal(await res().getById(v.id), undefined);
    const s = await tc.admin.request<{ id: string }>('DELETE', '/v1/volume-snapshots/s1');
    await ctl.reconcile(s.id);
    assert.deepEqual(take(), [`deleteSnapshot ${s.id}`, `deleteSnapshot ${s.id}`], 'both drivers: the snapshot may be in either');
    const q = await tc.cloud.ctx.identity.quotas((await tc.cloud.ctx.identity.requireProject('default')).id);
    for (const k of ['volumes', 'volume_gb', 'snapshots']) assert.equal(q.find((x) => x.resource === k)?.used, 0, k);
  });

  it('snapshot of a volume in a running VM: a live snapshot copied by the VM; VM stopped: the offline copy; VM attach in flight: wait', async () => {
    const v = await tc.admin.request<{ id: string }>('POST', '/v1/volumes', { body: { name: 'vm-disk', spec: { sizeGb: 0.0625 } } });
    await ctl.reconcile(v.id);
    take();
    computeDeps = { driver: {} as ComputeDriver, qemu: qemu as unknown as QemuDriver, isVm: (id) => id === 'inst-vm1' };
    const attachment = { instanceId: 'inst-vm1', instance: 'vm-1' };
    await tc.cloud.ctx.store.tx(async (q) => {
      const cur = (await new Resources(q).getById<VolumeSpec, VolumeStatus>(v.id))!;
      await new Resources(q).updateSpec(cur, { spec: { ...cur.spec, attachment } });
    });
    const snap = async (name: string) => (await tc.admin.request<{ id: string; spec: { volumeId: string } }>('POST', '/v1/volume-snapshots', { body: { name, spec: { volume: 'vm-disk' } } })).id;
    const s0 = await snap('s-wait');
    assert.deepEqual(await ctl.reconcile(s0), { requeueAfterMs: 1000 }, 'the VM attach is not done yet');
    assert.deepEqual(take(), []);
    await res().updateStatus<VolumeStatus>('volume', v.id, (st) => ({ ...st, state: 'in-use', attachment: { ...attachment, kind: 'vm', attachedAt: new Date().toISOString() } }));
    await ctl.reconcile(s0);
    assert.deepEqual(take(), [`createLiveSnapshot ${v.id} ${s0}`, `copyVolume inst-vm1 ${v.id} raw full`]);
    assert.equal((await res().getById<unknown, SnapshotStatus>(s0))!.status.state, 'available');
    vmState = 'exited';
    const s1 = await snap('s-stopped');
    await ctl.reconcile(s1);
    assert.deepEqual(take(), [`createSnapshot ${v.id} ${s1}`]);
    computeDeps = undefined;
  });
});
