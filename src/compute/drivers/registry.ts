/**
 * The compute driver registry: one entry per driver folder, and host
 * detection for the agent at start-up and for `yun doctor`.
 * Nothing here is a singleton: every call builds fresh driver instances.
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { FakeDriver, type FakeHost } from './fake/driver.ts';
import { detectCgroupLayout, type CgroupLayout } from './oci/cgroups.ts';
import { OciDriver } from './oci/driver.ts';
import { overlaySupported } from './oci/rootfs.ts';
import { findOciRuntime, type OciRuntimeInfo } from './oci/runtime.ts';
import { ProcessDriver } from './process/driver.ts';
import { QemuDriver } from './qemu/driver.ts';
import type { ComputeCapabilities, ComputeDriver } from './types.ts';

export interface ComputeDriverEntry {
  name: string;
  /** What kind of image the driver runs: a rootfs directory (containers, processes) or a VM disk. */
  runs: 'rootfs' | 'vm';
  /** Build an instance keeping its state under `stateDir` (already driver-specific). */
  make(stateDir: string): ComputeDriver;
}

/** Built-in drivers. A new driver is one folder plus one line here. */
export function builtinComputeDrivers(): ComputeDriverEntry[] {
  return [
    { name: 'oci', runs: 'rootfs', make: (stateDir) => new OciDriver({ stateDir }) },
    { name: 'process', runs: 'rootfs', make: (stateDir) => new ProcessDriver({ stateDir }) },
    { name: 'qemu', runs: 'vm', make: (stateDir) => new QemuDriver({ stateDir }) },
  ];
}

export interface DetectComputeOptions {
  /** Compute state root, e.g. `/var/lib/yun/compute`; each driver gets `<stateDir>/<name>`. */
  stateDir: string;
  /** Preference order for rootfs workloads. Default `['oci', 'process']`. */
  prefer?: string[];
  /** Only consider these drivers (e.g. from config). Default: all built-ins. */
  only?: string[];
  /** Add the in-memory fake driver on this simulated host (tests). */
  fakeHost?: FakeHost;
  /** Replace the built-in list (tests, plugins). */
  entries?: ComputeDriverEntry[];
}

/** Host facts `yun doctor` prints. Plain data. */
export interface ComputeHostReport {
  root: boolean;
  kernel: string;
  arch: string;
  cgroups: CgroupLayout;
  /** crun is run in a private mount namespace with /sys/fs/cgroup/unified unmounted. */
  hybridWorkaround: boolean;
  overlayfs: boolean;
  crun?: OciRuntimeInfo;
  runc?: OciRuntimeInfo;
  busyboxStatic: boolean;
  drivers: { name: string; runs: 'rootfs' | 'vm'; capabilities?: ComputeCapabilities; error?: string }[];
  /** Name of the driver chosen for rootfs workloads, if any is available. */
  chosen?: string;
}

export interface DetectedComputeDrivers {
  /** Every driver whose capabilities say available, by name. */
  drivers: Record<string, ComputeDriver>;
  /** Best available driver for rootfs (container) workloads. */
  chosen?: ComputeDriver;
  report: ComputeHostReport;
}

export async function detectComputeDrivers(opts: DetectComputeOptions): Promise<DetectedComputeDrivers> {
  let entries = opts.entries ?? builtinComputeDrivers();
  if (opts.fakeHost) {
    const host = opts.fakeHost;
    entries = [...entries, { name: 'fake', runs: 'rootfs', make: () => new FakeDriver({ host }) }];
  }
  if (opts.only) entries = entries.filter((e) => opts.only!.includes(e.name));
  const cgroups = detectCgroupLayout();
  const crun = await findOciRuntime(['/usr/bin/crun', '/usr/local/bin/crun']);
  const runc = await findOciRuntime(['/usr/bin/runc', '/usr/sbin/runc', '/usr/local/bin/runc', '/usr/local/sbin/runc']);
  const report: ComputeHostReport = {
    root: process.getuid?.() === 0,
    kernel: release(),
    arch: process.arch,
    cgroups,
    hybridWorkaround: cgroups === 'hybrid' && crun !== undefined,
    overlayfs: await overlaySupported(),
    ...(crun ? { crun } : {}),
    ...(runc ? { runc } : {}),
    busyboxStatic: existsSync('/bin/busybox'),
    drivers: [],
  };
  const drivers: Record<string, ComputeDriver> = {};
  for (const e of entries) {
    try {
      const d = e.make(join(opts.stateDir, e.name));
      const capabilities = await d.capabilities();
      report.drivers.push({ name: e.name, runs: e.runs, capabilities });
      if (capabilities.available) drivers[e.name] = d;
    } catch (err) {
      report.drivers.push({ name: e.name, runs: e.runs, error: (err as Error).message });
    }
  }
  const prefer = opts.prefer ?? ['oci', 'process', 'fake'];
  const chosenName = prefer.find((n) => drivers[n] && entries.find((e) => e.name === n)?.runs === 'rootfs');
  if (chosenName) report.chosen = chosenName;
  return { drivers, chosen: chosenName ? drivers[chosenName] : undefined, report };
}
