import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeDriver, FakeHost } from '../drivers/fake/driver.ts';
import { QemuDriver } from '../drivers/qemu/index.ts';
import { type ComputeDriver, isExecable, isLiveResizable } from '../drivers/types.ts';
import { requireCapability } from '../../../test/helpers/capability.ts';
import { VM_IMAGE_MARKER, VmRoutingDriver } from './router.ts';

const hasTools = ['/usr/bin/genisoimage'].every(existsSync);

describe('VmRoutingDriver', () => {
  let work = '';
  let vmImage = '';
  let ctImage = '';
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'yun-vm-router-'));
    vmImage = join(work, 'img-vm', 'rootfs');
    await mkdir(vmImage, { recursive: true });
    await writeFile(join(vmImage, 'vmlinuz'), 'not really a kernel');
    await writeFile(join(vmImage, 'image.json'), JSON.stringify({ kernel: 'vmlinuz', cmdline: 'console=ttyS0' }));
    await writeFile(join(work, 'img-vm', VM_IMAGE_MARKER), '{"kind":"tiny-vm"}');
    ctImage = join(work, 'img-ct', 'rootfs');
    await mkdir(ctImage, { recursive: true });
    // an uploaded rootfs may carry any image.json: without the marker beside rootfs/ it stays a container
    await writeFile(join(ctImage, 'image.json'), JSON.stringify({ kernel: '/etc/passwd' }));
  });
  after(async () => { await rm(work, { recursive: true, force: true }); });

  it('sends VM images to qemu and everything else to the rootfs driver; finds them again by id', async (t) => {
    if (!requireCapability(t, hasTools, 'needs genisoimage (the qemu driver makes a NoCloud seed at create)')) return;
    const fake = new FakeDriver({ host: new FakeHost() });
    const qemu = new QemuDriver({ stateDir: join(work, 'qemu'), accelerator: 'tcg' });
    const r = new VmRoutingDriver(fake, qemu);
    await r.create({ id: 'i-ct', imageRootfs: ctImage, command: ['sleep', '100'] });
    await r.create({ id: 'i-vm', imageRootfs: vmImage, command: [] });
    assert.equal(r.isVm('i-vm'), true);
    assert.equal(r.isVm('i-ct'), false);
    assert.equal((await fake.inspect('i-ct'))?.state, 'created');
    assert.equal(await fake.inspect('i-vm'), undefined);
    assert.equal((await qemu.inspect('i-vm'))?.state, 'created');
    assert.equal((await r.inspect('i-vm'))?.state, 'created');
    assert.deepEqual((await r.list()).map((w) => w.id).sort(), ['i-ct', 'i-vm']);
    assert.equal(r.logPath('i-vm'), qemu.logPath('i-vm'));
    assert.equal(r.name, 'fake', 'compute keeps reporting its rootfs driver');
    // a restart: a new router on the same state finds the VM again
    const r2 = new VmRoutingDriver(fake, new QemuDriver({ stateDir: join(work, 'qemu'), accelerator: 'tcg' }));
    assert.equal(r2.isVm('i-vm'), true);
    await assert.rejects(r2.exec!('i-vm', ['true']), /exec into VMs/);
    // a VM that is not running takes any size, for its next start
    await r2.resize('i-vm', { cpus: 2, memoryMb: 512 });
    const vm = await r2.inspect('i-vm');
    assert.deepEqual([vm?.limits.cpus, vm?.limits.memoryMb, vm?.liveResize], [2, 512, { vcpus: 2, minMemoryMb: 64, maxMemoryMb: 512 }]);
    assert.equal((await r2.inspect('i-ct'))?.liveResize, undefined, 'containers: the driver decides for every change');
    await r2.delete('i-vm');
    await r2.delete('i-ct');
    assert.deepEqual(await r2.list(), []);
  });

  it('offers exec only when the rootfs driver has it; resize always (VMs), refused for containers the rootfs driver cannot resize', async () => {
    const fake = new FakeDriver({ host: new FakeHost() });
    const bare: ComputeDriver = {
      name: 'bare', capabilities: fake.capabilities.bind(fake), create: fake.create.bind(fake), start: fake.start.bind(fake), stop: fake.stop.bind(fake),
      delete: fake.delete.bind(fake), inspect: fake.inspect.bind(fake), list: fake.list.bind(fake), logPath: fake.logPath.bind(fake),
      readLog: fake.readLog.bind(fake), stats: fake.stats.bind(fake),
    };
    const qemu = new QemuDriver({ stateDir: join(work, 'qemu2') });
    assert.ok(isExecable(new VmRoutingDriver(fake, qemu)) && isLiveResizable(new VmRoutingDriver(fake, qemu)));
    assert.ok(!isExecable(new VmRoutingDriver(bare, qemu)) && isLiveResizable(new VmRoutingDriver(bare, qemu)));
    await assert.rejects(new VmRoutingDriver(bare, qemu).resize('i-x', { cpus: 1 }), /bare driver cannot resize live/);
  });
});
