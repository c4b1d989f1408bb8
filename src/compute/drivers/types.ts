/**
 * The compute driver contract. A compute driver runs workloads (containers,
 * processes, VMs) on ONE host; the compute service, its controller and the
 * scheduler sit above it and only ever talk through this interface.
 *
 * Rules every implementation follows (and the shared contract suite in
 * `contract.test-suite.ts` checks):
 * - Workloads are named by the yun id in `WorkloadSpec.id`. Backend-native
 *   names (crun container ids, pids of wrappers, cgroup paths) are derived
 *   inside the driver and never appear in return values.
 * - Every mutating call is idempotent: calling it again with the same
 *   arguments after success is a no-op that succeeds.
 * - A failed call leaves nothing half-made: `create` that throws leaves no
 *   directories, mounts or cgroups behind.
 * - All state needed to find a workload again lives under the driver's state
 *   directory, so a NEW driver instance on the same state directory (a
 *   control-plane restart) sees, via `list()`, every workload the old one
 *   owned, with the same pid. Running workloads survive the restart and are
 *   adopted; they are never started a second time.
 * - Errors are `YunError`s: `NotFound` for an unknown id (except `delete`,
 *   `inspect`), `InvalidState` for a call the current state forbids (e.g.
 *   `exec` on a stopped workload), `ValidationFailed` for a bad spec,
 *   `DriverFailed` when the host tool fails (its stderr is in `details`).
 */

/** What a driver can do on this host. Plain data: the scheduler filters on it and `yun doctor` prints it. */
export interface ComputeCapabilities {
  /** The driver can run workloads on this host at all. */
  available: boolean;
  /** Why not, when `available` is false (missing binary, not root, ...). */
  reason?: string;
  /** Backend description, e.g. `crun 1.8.1`, `process (prlimit)`. */
  backend: string;
  /** Kernel isolation the driver provides. `false` means NOT provided. */
  isolation: {
    pid: boolean;
    mount: boolean;
    uts: boolean;
    ipc: boolean;
    /** Own network namespace (or the one given in `netnsPath`). */
    net: boolean;
    /** cgroup limits are enforced (see `enforces` for which). */
    cgroups: boolean;
    /** Runs from the image rootfs rather than the host filesystem. */
    rootfs: boolean;
    /** Capabilities dropped to the default container set and noNewPrivileges. */
    capabilities: boolean;
    seccomp: boolean;
  };
  /** Which of the `WorkloadLimits` are enforced, and how faithfully. */
  enforces: { cpus: boolean; memory: boolean; pids: boolean };
  /** Implements `LiveResizable`. */
  liveResize: boolean;
  /** Implements `Execable`. */
  exec: boolean;
  /** `WorkloadStatus.oomKilled` is reported reliably. */
  oomDetection: boolean;
  /** Can join a network namespace given by path in `WorkloadSpec.netnsPath`. */
  netns: boolean;
  /** Writable layer: `overlay` (copy-on-write over the image), `copy`, or `none` (host filesystem). */
  writableLayer: 'overlay' | 'copy' | 'none';
}

/** Resource limits. Omitted fields mean "no limit". */
export interface WorkloadLimits {
  /** CPU cores, fractional allowed (0.5 = half a core of CPU time per wall second). */
  cpus?: number;
  /** Memory limit in MiB (MB in flavors means MiB). */
  memoryMb?: number;
  /** Maximum number of processes/threads. */
  pids?: number;
  /**
   * Root disk size in GiB, for workloads with a disk of their own (VMs): a
   * resize grows the disk (live where it runs), never shrinks it. Container
   * drivers ignore it.
   */
  rootDiskGb?: number;
}

/** A file the driver writes into the workload's writable layer before first start. */
export interface InjectedFile {
  /** Absolute path inside the workload, e.g. `/run/yun/meta_data.json`. No `..` components. */
  path: string;
  content: string | Uint8Array;
  /** File mode, default 0o644. */
  mode?: number;
}

export interface WorkloadSpec {
  /** yun instance id (e.g. `i-abc...`). Lowercase letters, digits and `-`; at most 63 characters. */
  id: string;
  /** Absolute path of the image rootfs directory. Treated as READ-ONLY; each workload gets its own writable layer. */
  imageRootfs: string;
  /** argv; `command[0]` is resolved inside the workload's PATH. Never passed through a shell. */
  command: string[];
  /** Environment as a map. `PATH` defaults to the usual search path. */
  env?: Record<string, string>;
  /** Working directory inside the workload, default `/`. */
  workingDir?: string;
  /** Hostname inside the workload (drivers without UTS isolation ignore it). Default: the id. */
  hostname?: string;
  limits?: WorkloadLimits;
  /**
   * Path of a network namespace made by the network service (e.g.
   * `/var/run/netns/yun-xxx`). When given the workload joins it; otherwise it
   * gets its own namespace with loopback only (drivers without `isolation.net`
   * share the host network).
   */
  netnsPath?: string;
  /**
   * NICs for workloads with their own kernel (the qemu driver plugs each in as
   * virtio-net on its tap and tells the guest its address); container
   * drivers use `netnsPath` instead and ignore this.
   */
  nics?: WorkloadNic[];
  /** Files written into the workload before its first start (metadata, keys). */
  files?: InjectedFile[];
  /**
   * A user-data script (must start with `#!`). It is stored at
   * `/run/yun/user-data` and run once, before `command`, on the first start
   * only; its exit status is recorded in `/run/yun/user-data.status`. Needs
   * `/bin/sh` in the image.
   */
  userData?: string;
}

/** A VM NIC: a host tap device made by the network service, and the guest's address on it. */
export interface WorkloadNic {
  /** Host tap device to open. */
  tap: string;
  /** The guest NIC's MAC (the network drops frames from any other). */
  mac: string;
  /** Guest address and prefix length, e.g. `10.20.0.5` and 24. */
  ip: string;
  prefix: number;
  /** Gateway: the default route (first NIC only) and the DNS server. */
  gateway: string;
  /** DNS search domain, e.g. `default.internal`. */
  searchDomain?: string;
}

export type WorkloadState = 'created' | 'running' | 'exited';

export interface WorkloadStatus {
  id: string;
  state: WorkloadState;
  /** Host pid of the workload's main process while running. */
  pid?: number;
  /** Exit status once exited: the code, or 128+signal when killed by a signal. Absent if unknowable. */
  exitCode?: number;
  /** The kernel's OOM killer killed a process of this workload (its memory limit was hit). */
  oomKilled: boolean;
  /**
   * The workload failed rather than ended (e.g. a VM guest's kernel
   * panicked): why, in words. The controller records state `error` with it.
   */
  failure?: string;
  /** ISO-8601 timestamps. */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Limits currently in force (after any live resize). */
  limits: WorkloadLimits;
  /**
   * Set by drivers that can apply only some limit changes live (VMs): what the
   * workload takes without a restart (while it runs; before a start: after
   * that start). Such a driver's `resize` also takes any change while the
   * workload is not running, in place (disks and writable layer kept), for
   * its next start. Absent: `LiveResizable` and `capabilities().liveResize`
   * decide for every change. See `liveResizeBlocker`.
   */
  liveResize?: LiveResizeRange;
}

/** Limit changes a running workload takes live; anything else needs a restart. */
export interface LiveResizeRange {
  /** vCPUs it runs with: `cpus` values that round up to this count apply live (unset counts as 1). */
  vcpus: number;
  /** vCPUs may be added live (hot-plug) up to this count; never removed live. Absent: the count is fixed while it runs. */
  maxVcpus?: number;
  /** Memory may be set live anywhere in [min, max] MiB (VMs: balloon down from, and back up to, the boot size). */
  minMemoryMb: number;
  maxMemoryMb: number;
}

export interface WorkloadStats {
  /** Total CPU time consumed, in seconds (user + system). */
  cpuSeconds: number;
  /** Current memory usage in bytes. */
  memoryBytes: number;
  /** Peak memory usage in bytes, if known. */
  memoryPeakBytes?: number;
  /** Current number of processes/threads. */
  pids: number;
  /** Block I/O totals in bytes, if the driver can see them. */
  blockReadBytes?: number;
  blockWriteBytes?: number;
  /** VMs: memory the guest has now (its boot memory less the balloon), which a live resize moves. */
  guestMemoryBytes?: number;
}

export interface StopOptions {
  /** Wait this long after SIGTERM before SIGKILL. Default 10 000 ms. 0 kills at once. */
  timeoutMs?: number;
}

export interface ExecOptions {
  env?: Record<string, string>;
  workingDir?: string;
  /** Kill the exec'd process after this long. Default 60 000 ms. */
  timeoutMs?: number;
  /** Bytes written to the process's stdin. */
  stdin?: string | Uint8Array;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status, or 128+signal. */
  exitCode: number;
}

export interface LogReadOptions {
  /** Only the last N bytes of the log. */
  tailBytes?: number;
}

export interface ComputeDriver {
  /** Registry name: `oci`, `process`, `fake`, `qemu`, ... */
  readonly name: string;

  /** What this driver can do on this host. Cheap; may be cached by the driver. */
  capabilities(): Promise<ComputeCapabilities>;

  /**
   * Prepare the workload (writable layer over the image, bundle, injected
   * files, log file) without starting it. After success `inspect` reports
   * `created`. Idempotent by `spec.id`: a second create of an existing id
   * succeeds without change (the first spec wins). A failed create leaves
   * nothing behind.
   */
  create(spec: WorkloadSpec): Promise<void>;

  /**
   * Start a created or exited workload. Resolves once the main process is
   * running (it may exit immediately afterwards). Starting a running workload
   * is a no-op. The writable layer is kept across stop/start.
   * Throws `NotFound` for an unknown id.
   */
  start(id: string): Promise<void>;

  /**
   * Send SIGTERM to the workload, wait up to `timeoutMs`, then SIGKILL.
   * Resolves once it has exited. Stopping a created or exited workload is a
   * no-op. Throws `NotFound` for an unknown id.
   */
  stop(id: string, opts?: StopOptions): Promise<void>;

  /**
   * Kill the workload if running and remove everything the driver made for
   * it: processes, mounts, cgroups, writable layer, logs, state. Deleting a
   * missing id succeeds.
   */
  delete(id: string): Promise<void>;

  /** Current status, or `undefined` if the driver does not own this id. */
  inspect(id: string): Promise<WorkloadStatus | undefined>;

  /**
   * Every workload this driver owns on this host (created, running or
   * exited), read from the host and the state directory: after a restart the
   * controller adopts what it finds here instead of starting a second copy.
   */
  list(): Promise<WorkloadStatus[]>;

  /**
   * Absolute path of the workload's console log (its stdout and stderr,
   * appended across starts). Survives control-plane restarts.
   */
  logPath(id: string): string;

  /** Read the console log. Empty string if nothing was logged yet. Throws `NotFound` for an unknown id. */
  readLog(id: string, opts?: LogReadOptions): Promise<string>;

  /** Resource usage of a running workload (zeros for created; last values or zeros for exited). Throws `NotFound`. */
  stats(id: string): Promise<WorkloadStats>;
}

/** Optional: limits can be changed while the workload runs. */
export interface LiveResizable {
  /**
   * Apply new limits to a created or running workload without restarting it.
   * Fields left out keep their current value. Lowering memory below current
   * usage may make the kernel OOM-kill the workload. Throws `NotFound`;
   * `InvalidState` for a change outside the workload's `liveResize` range
   * while it runs (nothing is changed then).
   */
  resize(id: string, limits: WorkloadLimits): Promise<void>;
}

/** Optional: run another command inside a running workload. */
export interface Execable {
  /**
   * Run `argv` (no shell) inside the running workload's namespaces and
   * cgroups, wait for it and return its output. Throws `InvalidState` if the
   * workload is not running, `NotFound` for an unknown id.
   */
  exec(id: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
}

export const isLiveResizable = (d: ComputeDriver): d is ComputeDriver & LiveResizable =>
  typeof (d as Partial<LiveResizable>).resize === 'function';

export const isExecable = (d: ComputeDriver): d is ComputeDriver & Execable =>
  typeof (d as Partial<Execable>).exec === 'function';

/** Workload ids are yun ids: safe as file and cgroup names. */
export const WORKLOAD_ID_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
