/**
 * OCI runtime bundle `config.json` for one workload, modelled on runc's
 * default spec (`runc spec`): the same namespaces, mounts, masked and
 * read-only paths, plus Docker's default capability set. Resource limits are
 * deliberately absent: they live on the driver-owned parent cgroup (see
 * cgroups.ts), and `cgroupsPath` places the container below it.
 * The seccomp filter is seccomp.ts's deny list, when the runtime has
 * seccomp (capabilities say whether it is applied).
 */
import type { WorkloadSpec } from '../types.ts';

/** Docker / containerd default capability set. */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The argv actually run: with user-data, the fixed init wrapper runs it once first. */
export function processArgs(spec: WorkloadSpec): string[] {
  return spec.userData === undefined ? spec.command : ['/bin/sh', '/run/yun/init', ...spec.command];
}

export function envList(env: Record<string, string> | undefined): string[] {
  const merged: Record<string, string> = { PATH: DEFAULT_PATH, ...env };
  return Object.entries(merged).map(([k, v]) => `${k}=${v}`);
}

export interface BundleOptions {
  /** Rootfs directory (absolute), the merged overlay or the copy. */
  rootfs: string;
  /** cgroupsPath for the runtime's leaf cgroup. */
  cgroupsPath: string;
  /** OCI `linux.seccomp`; absent: no filter. */
  seccomp?: Record<string, unknown>;
}

export function ociConfig(spec: WorkloadSpec, opts: BundleOptions): Record<string, unknown> {
  const caps = DEFAULT_CAPS;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: processArgs(spec),
      env: envList(spec.env),
      cwd: spec.workingDir ?? '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: opts.rootfs, readonly: false },
    hostname: spec.hostname ?? spec.id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' },
        spec.netnsPath ? { type: 'network', path: spec.netnsPath } : { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
      ],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      ...(opts.seccomp ? { seccomp: opts.seccomp } : {}),
    },
  };
}

/**
 * The init wrapper written to /run/yun/init when the spec has user-data: a
 * fixed script (nothing from the spec is interpolated) that runs the
 * user-data once (its output goes to the console log), records its status,
 * then execs the command.
 */
export const USER_DATA_INIT = `#!/bin/sh
if [ ! -e /run/yun/user-data.status ]; then
  /run/yun/user-data
  echo "$?" > /run/yun/user-data.status
fi
exec "$@"
`;
