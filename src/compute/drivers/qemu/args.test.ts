import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type QemuLaunch, buildQemuArgs } from './args.ts';

const base: QemuLaunch = {
  binary: 'qemu-system-x86_64',
  accelerator: 'tcg',
  id: 'i-abc',
  vcpus: 2,
  memoryMb: 512,
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.gz',
  cmdline: 'console=ttyS0 rdinit=/init',
  rootDisk: { name: 'root', path: '/state/i-abc/disk.qcow2', format: 'qcow2', serial: 'root' },
  seed: '/state/i-abc/seed.iso',
  drives: [{ name: 'vvol-1', path: '/vols/vol-1.img', format: 'raw', serial: 'vol-1' }],
  nics: [],
  consoleLog: '/state/a,b/console.log',
  qmpSocket: '/state/i-abc/qmp.sock',
  pidFile: '/state/i-abc/qemu.pid',
};

const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];

describe('buildQemuArgs', () => {
  it('daemonizes with a pidfile, QMP socket, serial console to the log, no default devices', () => {
    const a = buildQemuArgs(base);
    assert.ok(a.includes('-daemonize') && a.includes('-nodefaults'));
    assert.equal(after(a, '-pidfile'), base.pidFile);
    assert.equal(after(a, '-qmp'), 'unix:/state/i-abc/qmp.sock,server=on,wait=off');
    assert.equal(after(a, '-chardev'), 'file,id=console,path=/state/a,,b/console.log,append=on', 'commas escaped as ,,');
    assert.equal(after(a, '-accel'), 'tcg');
    assert.equal(after(a, '-smp'), '2');
    assert.equal(after(a, '-m'), '512');
    assert.equal(after(a, '-append'), base.cmdline, 'kernel cmdline is one argv element, no shell');
  });

  it('disks are -blockdev JSON + virtio-blk devices: root, read-only seed, volumes', () => {
    const a = buildQemuArgs(base);
    const blockdevs = a.flatMap((x, i) => (x === '-blockdev' ? [JSON.parse(a[i + 1] ?? '')] : []));
    assert.deepEqual(blockdevs.map((b) => [b['node-name'], b.driver, b['read-only']]), [
      ['node-root', 'qcow2', false],
      ['node-seed', 'raw', true],
      ['node-vvol-1', 'raw', false],
    ]);
    const devices = a.flatMap((x, i) => (x === '-device' ? [a[i + 1]] : []));
    assert.deepEqual(devices, [
      'virtio-blk-pci,id=dev-root,drive=node-root,serial=root',
      'virtio-blk-pci,id=dev-seed,drive=node-seed,serial=cidata',
      'virtio-blk-pci,id=dev-vvol-1,drive=node-vvol-1,serial=vol-1',
      'virtio-balloon-pci,id=balloon0',
      'pvpanic-pci',
    ]);
    assert.equal(after(a, '-action'), 'panic=shutdown', 'a guest kernel panic ends QEMU (no reboot loop)');
  });

  it('disk boot (no kernel) marks the root disk bootable; nics become tap + virtio-net', () => {
    const a = buildQemuArgs({ ...base, kernel: undefined, nics: [{ tap: 'tap-x', mac: '52:54:00:12:34:56' }], firmwareSerial: '/state/i-abc/sercon-port' });
    assert.ok(!a.includes('-kernel') && !a.includes('-append'));
    assert.equal(after(a, '-fw_cfg'), 'name=etc/sercon-port,file=/state/i-abc/sercon-port', 'SeaBIOS mirrors its screen to the console');
    assert.ok(!buildQemuArgs(base).includes('-fw_cfg'));
    assert.ok(a.includes('virtio-blk-pci,id=dev-root,drive=node-root,serial=root,bootindex=0'));
    assert.equal(after(a, '-netdev'), 'tap,id=net0,ifname=tap-x,script=no,downscript=no');
    assert.ok(a.includes('virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56'));
    assert.ok(a.indexOf('virtio-balloon-pci,id=balloon0') > a.indexOf('virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56'), 'the balloon comes after disks and nics (their PCI slots stay)');
  });
});
