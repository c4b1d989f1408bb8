/**
 * End to end: the qemu driver boots tiny-vm (Debian kernel + busybox
 * initramfs built here) under whatever accelerator the probe picks (TCG on
 * hosts where KVM hangs), and drives it through QMP: user-data, graceful
 * ACPI stop, adoption by a new driver, live volume hot-plug, reset, live
 * memory resize by balloon, resize while stopped (root disk kept).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isYunError } from '../../src/core/errors.ts';
import { FileVolumeDriver } from '../../src/block/drivers/file/driver.ts';
import { Qcow2VolumeDriver } from '../../src/block/drivers/qcow2/driver.ts';
import { QemuDriver } from '../../src/compute/drivers/qemu/driver.ts';
import { qemuVersion } from '../../src/compute/drivers/qemu/probe.ts';
import { importDiskImage } from '../../src/compute/images/vm/disk.ts';
import { type TinyVmImage, buildTinyVmImage } from '../../src/compute/images/vm/tiny.ts';
import { requireCapability } from '../helpers/capability.ts';
import { pidsMentioning, waitForConsole } from './helpers.ts';

const BOOT_MS = 120_000;
const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

describe('qemu driver: tiny-vm end to end', { timeout: 900_000 }, () => {
  let work = '';
  let stateDir = '';
  let img: TinyVmImage;
  let d: QemuDriver;
  let reason: string | undefined;
  let baseHash = '';
  const id = 'vm-e2e-1';
  const ok = (t: TestContext) => requireCapability(t, !reason, reason ?? '');

  before(async () => {
    if (!(await qemuVersion('qemu-system-x86_64'))) {
      reason = 'qemu-system-x86_64 not installed (Debian: qemu-system-x86)';
      return;
    }
    work = await mkdtemp(join(tmpdir(), 'yun-vm-e2e-'));
    stateDir = join(work, 'state');
    try {
      img = await buildTinyVmImage(join(work, 'image'));
    } catch (e) {
      // no Debian kernel reachable (no apt lists, offline) or no busybox-static: a missing capability
      if (isYunError(e) && e.code === 'CapabilityMissing') {
        reason = `cannot build tiny-vm: ${e.message}`;
        return;
      }
      throw e;
    }
    baseHash = await sha(img.disk);
    d = new QemuDriver({ stateDir, probeKernel: img.kernel, maxVcpus: 2 });
  });

  after(async () => {
    if (!work) return;
    const left = new QemuDriver({ stateDir });
    for (const w of await left.list()) await left.delete(w.id);
    await rm(work, { recursive: true, force: true });
    assert.deepEqual(await pidsMentioning(work), [], 'no QEMU left behind');
  });

  it('capabilities name the accelerator, and say why when KVM is not used', async (t) => {
    if (!ok(t)) return;
    const caps = await d.capabilities();
    assert.equal(caps.available, true, caps.reason);
    assert.ok(['kvm', 'tcg'].includes(caps.accelerator));
    if (caps.accelerator === 'tcg' && existsSync('/dev/kvm')) assert.match(caps.warnings.join(' '), /KVM|kvm/);
    assert.equal(caps.volumeHotplug, true);
  });

  it('boots to the boot marker and runs NoCloud user-data', async (t) => {
    if (!ok(t)) return;
    await d.create({
      id,
      imageRootfs: join(work, 'image'),
      command: [],
      hostname: 'tiny-one',
      limits: { cpus: 1, memoryMb: 256 },
      // runs at every boot: the token written to the root disk at the first one must come back after a resize
      userData: '#!/bin/sh\necho "UD-MARK $(hostname) $(cat /etc/yun-note)"\n'
        + '[ -f /mnt/vda/ud-first ] || { echo "token-$(cat /proc/sys/kernel/random/uuid)" > /mnt/vda/ud-first; sync; }\necho "UD-DISK $(cat /mnt/vda/ud-first)"\n',
      files: [{ path: '/etc/yun-note', content: 'note-injected' }],
    });
    await d.create({ id, imageRootfs: '/nonexistent', command: [] }); // idempotent: first spec wins
    assert.equal((await d.inspect(id))?.state, 'created');
    const t0 = Date.now();
    await d.start(id);
    const st = await d.inspect(id);
    assert.equal(st?.state, 'running');
    assert.ok(st?.pid && st.pid > 1);
    const log = await waitForConsole(d, id, img.bootMarker, BOOT_MS);
    t.diagnostic(`boot to marker: ${Date.now() - t0} ms`);
    assert.match(log, /mounted vda \(ext4\) on \/mnt\/vda/, 'overlay root disk mounted');
    assert.match(log, /yun tiny base disk v1/);
    assert.match(log, /1 vCPU, 2\d{5} kB memory/, 'vCPUs and memory from limits');
    await waitForConsole(d, id, 'UD-MARK tiny-one note-injected', BOOT_MS);
    await waitForConsole(d, id, 'yun-tiny: user-data exit 0', 30_000);
    assert.equal(await d.vmStatus(id), 'running');
    const stats = await d.stats(id);
    assert.ok(stats.cpuSeconds > 0 && stats.memoryBytes > 0);
    assert.equal(await sha(img.disk), baseHash, 'the shared base disk is never written');
  });

  it('a guest kernel panic ends QEMU (pvpanic) and the workload reports the failure', async (t) => {
    if (!ok(t)) return;
    const pid = 'vm-e2e-panic';
    await d.create({ id: pid, imageRootfs: join(work, 'image'), command: [], limits: { cpus: 1, memoryMb: 128 },
      userData: '#!/bin/sh\necho 1 > /proc/sys/kernel/sysrq\necho c > /proc/sysrq-trigger\n' });
    await d.start(pid);
    const end = Date.now() + BOOT_MS;
    let w = await d.inspect(pid);
    while (w?.state === 'running' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 300));
      w = await d.inspect(pid);
    }
    assert.equal(w?.state, 'exited', 'QEMU ended instead of rebooting the guest');
    assert.match(w?.failure ?? '', /^guest kernel panic: .*sysrq/i);
    assert.notEqual(w?.exitCode, 0);
    await d.delete(pid);
  });

  it('a boot that cannot go on is ended with the last console lines: a panic before pvpanic, firmware with nothing to boot', async (t) => {
    if (!ok(t)) return;
    const untilExited = async (wid: string) => {
      const end = Date.now() + BOOT_MS;
      let w = await d.inspect(wid);
      while (w?.state === 'running' && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 300));
        w = await d.inspect(wid);
      }
      return w;
    };
    // no init in the initramfs: the kernel panics before any module (pvpanic_pci) loads, and would reboot in 5 s forever
    const early = 'vm-e2e-early-panic';
    await d.create({ id: early, imageRootfs: join(work, 'image'), command: [], limits: { cpus: 1, memoryMb: 128 },
      vm: { cmdline: 'console=ttyS0 panic=5 loglevel=4 rdinit=/no-such-init' } });
    await d.start(early);
    let w = await untilExited(early);
    assert.equal(w?.state, 'exited', 'QEMU ended instead of rebooting the guest');
    t.diagnostic(`early panic: ${w?.failure}`);
    assert.match(w?.failure ?? '', /^guest kernel panic: .+; last console lines: .*Kernel panic - not syncing/);
    assert.notEqual(w?.exitCode, 0);
    assert.deepEqual(await pidsMentioning(join(stateDir, 'instances', early)), [], 'that QEMU is gone');
    await d.delete(early);
    // a disk with no boot sector: SeaBIOS (its screen mirrored to the console) finds nothing and would wait forever
    const blank = join(work, 'blank.img');
    await writeFile(blank, Buffer.alloc(1024 * 1024));
    await importDiskImage(blank, { intoDir: join(work, 'blank-image') });
    const nb = 'vm-e2e-no-boot';
    await d.create({ id: nb, imageRootfs: join(work, 'blank-image'), command: [], limits: { memoryMb: 64 } });
    await d.start(nb);
    w = await untilExited(nb);
    assert.equal(w?.state, 'exited');
    t.diagnostic(`no boot: ${w?.failure}`);
    assert.match(w?.failure ?? '', /^no bootable device; last console lines: .*Boot failed: not a bootable disk/);
    await d.delete(nb);
  });

  it('a new driver on the same state dir adopts the running VM and never starts a second QEMU', async (t) => {
    if (!ok(t)) return;
    const before = await d.inspect(id);
    const d2 = new QemuDriver({ stateDir, probeKernel: img.kernel });
    const listed = await d2.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.state, 'running');
    assert.equal(listed[0]?.pid, before?.pid);
    await Promise.all([d2.start(id), d.start(id)]);
    assert.deepEqual(await pidsMentioning(join(stateDir, 'instances', id)), [before?.pid]);
    assert.equal(await d2.vmStatus(id), 'running', 'QMP reachable from the new driver');
    d = d2;
  });

  it('hot-plugs raw and qcow2 volumes: the guest sees disks come, grow and go', async (t) => {
    if (!ok(t)) return;
    const raw = new FileVolumeDriver({ root: join(work, 'vol-file') });
    const q = new Qcow2VolumeDriver({ root: join(work, 'vol-qcow2') });
    await raw.create('vol-hot', 32 / 1024);
    await q.create('vol-q', 48 / 1024);
    await d.attachVolume(id, { volumeId: 'vol-hot', ...(await raw.attachment('vol-hot')) });
    await waitForConsole(d, id, 'new block device vdc size=65536 sectors serial=vol-hot', 60_000);
    await d.attachVolume(id, { volumeId: 'vol-q', ...(await q.attachment('vol-q')) });
    await waitForConsole(d, id, 'new block device vdd size=98304 sectors serial=vol-q', 60_000);
    await d.attachVolume(id, { volumeId: 'vol-q', ...(await q.attachment('vol-q')) }); // no-op
    assert.deepEqual((await d.attachedVolumes(id)).map((v) => v.volumeId), ['vol-hot', 'vol-q']);
    // an attached qcow2 volume is locked by QEMU: snapshot and offline extend must refuse, not corrupt
    await assert.rejects(q.createSnapshot('vol-q', 'snap-live'), /in use/);
    await assert.rejects(q.extend('vol-q', 64 / 1024), /in use/);
    // live extend: qcow2 grown by QEMU itself; raw grown on the host first, then announced
    await d.resizeVolume(id, 'vol-q', 64 * 1024 * 1024);
    await waitForConsole(d, id, 'block device vdd resized to 131072 sectors', 60_000);
    assert.equal((await q.inspect('vol-q'))?.virtualBytes, 64 * 1024 * 1024);
    await raw.extend('vol-hot', 40 / 1024);
    await d.resizeVolume(id, 'vol-hot', 40 * 1024 * 1024);
    await waitForConsole(d, id, 'block device vdc resized to 81920 sectors', 60_000);
    await d.detachVolume(id, 'vol-hot');
    await waitForConsole(d, id, 'block device removed vdc', 60_000);
    await d.detachVolume(id, 'vol-hot'); // no-op
    await d.detachVolume(id, 'vol-q');
    await waitForConsole(d, id, 'block device removed vdd', 60_000);
    assert.deepEqual(await d.attachedVolumes(id), []);
    await q.createSnapshot('vol-q', 'snap-after'); // released by QEMU
  });

  it('reboot (QMP system_reset) boots the guest again in the same QEMU', async (t) => {
    if (!ok(t)) return;
    const pid = (await d.inspect(id))?.pid;
    const n = (await d.readLog(id)).split(img.bootMarker).length - 1;
    await d.reboot(id);
    await waitForConsole(d, id, img.bootMarker, BOOT_MS, n + 1);
    assert.equal((await d.inspect(id))?.pid, pid);
  });

  it('live resize: memory is ballooned down and back up to the boot size; a vCPU is hot-plugged; more memory or vCPUs are refused while it runs', async (t) => {
    if (!ok(t)) return;
    const MiB = 1024 * 1024;
    assert.deepEqual((await d.inspect(id))?.liveResize, { vcpus: 1, maxVcpus: 2, minMemoryMb: 64, maxMemoryMb: 256 });
    await d.resize(id, { memoryMb: 160 });
    assert.equal((await d.stats(id)).guestMemoryBytes, 160 * MiB, 'the guest gave 96 MiB back (QMP query-balloon)');
    assert.equal((await d.inspect(id))?.limits.memoryMb, 160);
    await assert.rejects(d.resize(id, { memoryMb: 512 }), (e) => isYunError(e) && e.code === 'InvalidState' && /above the 256 MiB/.test(e.message));
    await assert.rejects(d.resize(id, { cpus: 3 }), (e) => isYunError(e) && /vCPU count changes \(1 → 3\) and only up to 2/.test(e.message));
    assert.equal((await d.inspect(id))?.limits.memoryMb, 160, 'a refused resize changes nothing');
    const pid = (await d.inspect(id))?.pid;
    await d.resize(id, { cpus: 2 });
    await waitForConsole(d, id, 'yun-tiny: vCPU cpu1 online: 2 vCPU', 30_000);
    assert.deepEqual((await d.inspect(id))?.liveResize, { vcpus: 2, minMemoryMb: 64, maxMemoryMb: 256 }, 'hot-plugged up to the maximum');
    assert.equal((await d.inspect(id))?.pid, pid, 'the same QEMU');
    await assert.rejects(d.resize(id, { cpus: 1 }), (e) => isYunError(e) && /not removed while it runs/.test(e.message));
    await d.resize(id, { memoryMb: 256 });
    assert.equal((await d.stats(id)).guestMemoryBytes, 256 * MiB);
    assert.equal(await d.vmStatus(id), 'running');
  });

  it('stops gracefully through ACPI power-down', async (t) => {
    if (!ok(t)) return;
    const pid = (await d.inspect(id))?.pid;
    await d.stop(id, { timeoutMs: 60_000 });
    const st = await d.inspect(id);
    assert.equal(st?.state, 'exited');
    assert.equal(st?.exitCode, 0, 'guest powered itself off (not killed)');
    assert.match(await d.readLog(id), /ACPI power button: powering off/);
    assert.deepEqual(await pidsMentioning(join(stateDir, 'instances', id)), []);
    assert.ok(pid);
    await d.stop(id); // no-op
  });

  it('boots an imported raw disk through the BIOS; a guest without ACPI is stopped by force', async (t) => {
    if (!ok(t)) return;
    // a boot sector that writes 'DISK-BOOT-OK' to COM1 and halts: real disk boot, no kernel
    const msg = Buffer.from('DISK-BOOT-OK\n');
    const code = Buffer.concat([
      Buffer.from([0xfc, 0x31, 0xc0, 0x8e, 0xd8]), // cld; xor ax,ax; mov ds,ax
      Buffer.from([0xbe, 0x20, 0x7c]), // mov si, 0x7c20 (message)
      Buffer.from([0xba, 0xf8, 0x03]), // mov dx, 0x3f8
      Buffer.from([0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8]), // lodsb; test al,al; jz +3; out dx,al; jmp lodsb
      Buffer.from([0xf4, 0xeb, 0xfd]), // hlt; jmp hlt
    ]);
    const sector = Buffer.alloc(512);
    code.copy(sector, 0);
    msg.copy(sector, 0x20);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    const rawDisk = join(work, 'bootsector.img');
    await writeFile(rawDisk, Buffer.concat([sector, Buffer.alloc(1024 * 1024 - 512)]));
    const imported = await importDiskImage(rawDisk, { intoDir: join(work, 'disk-image') });
    assert.equal(imported.format, 'qcow2');
    const did = 'vm-disk-boot';
    await d.create({ id: did, imageRootfs: join(work, 'disk-image'), command: [], limits: { memoryMb: 64 } });
    await d.start(did);
    await waitForConsole(d, did, 'DISK-BOOT-OK', 60_000);
    await d.stop(did, { timeoutMs: 1000 });
    const st = await d.inspect(did);
    assert.equal(st?.state, 'exited');
    assert.equal(st?.exitCode, 137, 'ACPI ignored: quit/killed');
    await d.delete(did);
    assert.deepEqual(await pidsMentioning(join(stateDir, 'instances', did)), []);
  });

  it('a volume attached while stopped is there at the next boot; delete removes everything', async (t) => {
    if (!ok(t)) return;
    const raw = new FileVolumeDriver({ root: join(work, 'vol-file') });
    await raw.create('vol-cold', 16 / 1024);
    await d.attachVolume(id, { volumeId: 'vol-cold', ...(await raw.attachment('vol-cold')) });
    const n = (await d.readLog(id)).split(img.bootMarker).length - 1;
    const lock = join(stateDir, 'instances', id, 'start.lock');
    await writeFile(lock, '1'); // held by a live process (pid 1): refuse
    await assert.rejects(d.start(id), (e) => isYunError(e) && e.code === 'Conflict');
    await writeFile(lock, '999999999'); // left by a dead process: taken over
    const earlier = await d.readLog(id);
    const token = /UD-DISK (token-\S+)/.exec(earlier)?.[1];
    assert.ok(token, 'the first boot wrote its token to the root disk');
    const tokens = earlier.split(`UD-DISK ${token}`).length - 1;
    await d.resize(id, { cpus: 2, memoryMb: 192 }); // stopped: any size, for the next start
    await d.start(id);
    assert.equal(existsSync(lock), false);
    const log = await waitForConsole(d, id, img.bootMarker, BOOT_MS, n + 1);
    const boot = log.slice(log.lastIndexOf('init starting'));
    assert.match(boot, /disk vdc size=32768 sectors/);
    assert.match(boot, /2 vCPU, 1\d{5} kB memory/, 'the new size, seen by the guest');
    assert.deepEqual((await d.inspect(id))?.liveResize, { vcpus: 2, minMemoryMb: 64, maxMemoryMb: 192 });
    const later = await waitForConsole(d, id, `UD-DISK ${token}`, 60_000, tokens + 1);
    assert.equal(/UD-DISK (\S+)/.exec(later.slice(later.lastIndexOf('init starting')))?.[1], token, 'root disk content kept through the resize');
    await d.delete(id);
    assert.equal(await d.inspect(id), undefined);
    assert.equal(existsSync(join(stateDir, 'instances', id)), false);
    assert.deepEqual(await pidsMentioning(join(stateDir, 'instances', id)), []);
    await d.delete(id);
  });
});
