import type { Accelerator } from './probe.ts';

/** A block device given to the guest as virtio-blk. */
export interface QemuDrive {
  /** QMP node name / device id stem: letters, digits, `-`, `_`; starts with a letter; ≤ 28 chars. */
  name: string;
  path: string;
  format: 'raw' | 'qcow2';
  readOnly?: boolean;
  /** virtio-blk serial the guest sees in /sys/block/vdX/serial (≤ 20 chars). */
  serial?: string;
}

export interface QemuNic {
  /** An existing tap device (made by the network driver). */
  tap: string;
  mac: string;
}

/** Everything one QEMU process is started with. */
export interface QemuLaunch {
  binary: string;
  accelerator: Accelerator;
  /** yun workload id: goes into `-name`. */
  id: string;
  vcpus: number;
  /** vCPUs that can be hot-plugged up to (`-smp maxcpus`); at most `vcpus` means none. */
  maxVcpus?: number;
  memoryMb: number;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  /** Boot disk (the per-instance overlay), first virtio disk (vda). */
  rootDisk?: QemuDrive;
  /** NoCloud seed image (ISO, label cidata). */
  seed?: string;
  /** Further disks present at boot (attached volumes). */
  drives: QemuDrive[];
  nics: QemuNic[];
  consoleLog: string;
  /** A fw_cfg file holding COM1's port (0x3f8, little-endian): SeaBIOS then writes its screen to the serial console. */
  firmwareSerial?: string;
  qmpSocket: string;
  pidFile: string;
}

export const nodeName = (d: QemuDrive) => `node-${d.name}`;
export const deviceId = (d: QemuDrive) => `dev-${d.name}`;

/** QMP `blockdev-add` arguments for a drive. */
export function blockdevArgs(d: QemuDrive): Record<string, unknown> {
  return {
    driver: d.format,
    'node-name': nodeName(d),
    'read-only': d.readOnly ?? false,
    file: { driver: 'file', filename: d.path },
  };
}

/** QMP `device_add` arguments for a drive. */
export function deviceArgs(d: QemuDrive): Record<string, unknown> {
  return { driver: 'virtio-blk-pci', id: deviceId(d), drive: nodeName(d), ...(d.serial ? { serial: d.serial } : {}) };
}

/** QEMU keeps `,` as an option separator; `,,` escapes it inside values. */
const esc = (s: string) => s.replace(/,/g, ',,');

const driveArgs = (d: QemuDrive, extra: string[] = []): string[] => [
  '-blockdev', JSON.stringify(blockdevArgs(d)),
  '-device', [`virtio-blk-pci`, `id=${deviceId(d)}`, `drive=${nodeName(d)}`, ...(d.serial ? [`serial=${esc(d.serial)}`] : []), ...extra].join(','),
];

/** QOM id of the virtio-balloon device every VM gets (live memory resize through QMP `balloon`). */
export const BALLOON_ID = 'balloon0';

/**
 * The argv (after the binary) for a daemonized QEMU: no default devices, no
 * display, serial console appended to `consoleLog`, QMP on a unix socket,
 * pidfile for adoption, and a virtio-balloon device (last, so the disks keep
 * their PCI slots and guest names). Pure, so it is unit-tested without QEMU.
 */
export function buildQemuArgs(l: QemuLaunch): string[] {
  const a: string[] = [
    '-name', `yun-${l.id}`,
    '-machine', 'pc',
    '-accel', l.accelerator,
    '-smp', l.maxVcpus && l.maxVcpus > l.vcpus ? `cpus=${l.vcpus},maxcpus=${l.maxVcpus}` : String(l.vcpus),
    '-m', String(l.memoryMb),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-chardev', `file,id=console,path=${esc(l.consoleLog)},append=on`,
    '-serial', 'chardev:console',
    '-qmp', `unix:${esc(l.qmpSocket)},server=on,wait=off`,
    '-pidfile', l.pidFile,
    '-daemonize',
  ];
  if (l.kernel) {
    a.push('-kernel', l.kernel);
    if (l.initrd) a.push('-initrd', l.initrd);
    if (l.cmdline) a.push('-append', l.cmdline);
  }
  // (QEMU warns that names outside opt/ are reserved: this one is SeaBIOS's own)
  if (l.firmwareSerial) a.push('-fw_cfg', `name=etc/sercon-port,file=${esc(l.firmwareSerial)}`);
  if (l.rootDisk) a.push(...driveArgs(l.rootDisk, l.kernel ? [] : ['bootindex=0']));
  if (l.seed) a.push(...driveArgs({ name: 'seed', path: l.seed, format: 'raw', readOnly: true, serial: 'cidata' }));
  for (const d of l.drives) a.push(...driveArgs(d));
  l.nics.forEach((n, i) => {
    a.push('-netdev', `tap,id=net${i},ifname=${esc(n.tap)},script=no,downscript=no`);
    a.push('-device', `virtio-net-pci,netdev=net${i},mac=${n.mac}`);
  });
  // no deflate-on-oom: memory taken by a resize stays taken (a limit, as for containers)
  a.push('-device', `virtio-balloon-pci,id=${BALLOON_ID}`);
  // a guest kernel panic (reported through pvpanic) ends QEMU instead of rebooting into a loop
  a.push('-device', 'pvpanic-pci', '-action', 'panic=shutdown');
  return a;
}
