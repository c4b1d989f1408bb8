/** Compute's resource shapes (instances, images), shared by service, controller, SDK and CLI. */
import type { Size } from './flavors.ts';

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export type InstanceState =
  | 'pending' | 'scheduled' | 'starting' | 'running' | 'stopping' | 'stopped' | 'deleting'
  | 'error' | 'exited' | 'OOMKilled';

export interface InstanceSpec {
  image: string;
  /** `vm` runs the image under QEMU (a VM image: tiny-vm or an imported disk); default `container`. */
  type?: 'container' | 'vm';
  flavor?: string;
  /** Ad-hoc size instead of a flavor. */
  cpus?: number;
  memoryMb?: number;
  diskGb?: number;
  /** argv; never run through a shell. Default: the image's `/bin/sh`. */
  command?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  /** Script (starting with `#!`) run once at first boot; served by the metadata service either way. */
  userData?: string;
  restartPolicy?: RestartPolicy;
  networks?: string[];
  securityGroups?: string[];
  /** Default: the instance name. */
  hostname?: string;
  pool?: string;
  zone?: string;
  hostLabels?: Record<string, string>;
  serverGroup?: string;
  /** Desired power state (the start/stop actions set it). */
  powerState?: 'running' | 'stopped';
  /** Bumped by the reboot action. */
  rebootCount?: number;
  /** Bumped by the rebuild action. */
  rebuildCount?: number;
  /** With the last resize: a stop-resize-start is allowed when a live resize is not. */
  allowRestart?: boolean;
  /** Derived by the service from flavor or cpus/memoryMb: what is claimed and enforced. */
  size?: Size;
  /** Derived: the resolved image's id. */
  imageId?: string;
}

export interface InstanceStatus {
  state?: InstanceState;
  reason?: string;
  message?: string;
  host?: string;
  hostId?: string;
  pool?: string;
  driver?: string;
  /** Kernel isolation this instance does NOT have (process driver: most of it). */
  isolationNotProvided?: string[];
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  restartCount?: number;
  startedAt?: string;
  finishedAt?: string;
  limits?: { cpus?: number; memoryMb?: number; pids?: number };
  /** VMs: the changes a resize applies without a restart (vCPU count, memory range in MiB). */
  liveResize?: { vcpus: number; maxVcpus?: number; minMemoryMb: number; maxMemoryMb: number };
  addresses?: { network: string; ip: string }[];
  metadataUrl?: string;
  observedGeneration?: number;
  rebootCount?: number;
  rebuildCount?: number;
  /** When the controller may try again after a crash loop (restart backoff). */
  nextRestartAt?: string;
  conditions?: import('../core/resource.ts').Condition[];
  [k: string]: unknown;
}

export interface ImageSpec {
  /** Where the bytes come from: built from host binaries, or uploaded. */
  source: { build: 'busybox' | 'node' | 'tiny-vm' } | { upload: 'rootfs' | 'oci' | 'disk' };
  /** Any project may launch it. Cloud admins only. */
  public?: boolean;
  minFlavor?: string;
  minRamMb?: number;
  description?: string;
}

export interface ImageStatus {
  state?: 'pending' | 'building' | 'uploading' | 'available' | 'error';
  reason?: string;
  sha256?: string;
  sizeBytes?: number;
  os?: string;
  arch?: string;
  [k: string]: unknown;
}
