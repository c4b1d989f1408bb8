/**
 * One ComputeDriver over two: container/process workloads go to the host's
 * rootfs driver (oci, process), VM workloads to the qemu driver. The
 * compute controller keeps talking to a single driver and needs no VM
 * branches.
 *
 * Which driver owns a workload: at `create`, a VM image is one whose image
 * directory holds a `vm-image.json` marker written by yun's own VM image
 * builders (never by uploaded bytes, which live under `rootfs/`). Afterwards
 * the qemu driver's state directory is the truth (it survives restarts), so
 * adoption after a restart needs no table.
 *
 * What it cannot do: exec into VMs (the qemu driver has none);
 * capabilities() reports the rootfs driver's. `resize` is always there
 * (VMs have it): for containers it works only when the rootfs driver can,
 * which its capabilities' `liveResize` says; for VMs each workload's
 * `inspect().liveResize` says which changes are live.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { YunError } from '../../core/errors.ts';
import type { QemuDriver } from '../drivers/qemu/index.ts';
import {
  type ComputeCapabilities, type ComputeDriver, type ExecOptions, type ExecResult, type LogReadOptions, type StopOptions,
  type WorkloadLimits, type WorkloadSpec, type WorkloadStats, type WorkloadStatus, isExecable, isLiveResizable,
} from '../drivers/types.ts';

/** File in an image's directory (beside `rootfs/`) that marks it as a VM image. */
export const VM_IMAGE_MARKER = 'vm-image.json';

export const isVmImageRootfs = (imageRootfs: string): boolean => existsSync(join(dirname(imageRootfs), VM_IMAGE_MARKER));

export class VmRoutingDriver implements ComputeDriver {
  readonly name: string;

  constructor(readonly containers: ComputeDriver, readonly vms: QemuDriver) {
    this.name = containers.name;
    // Optional abilities stay optional: exec is offered only when the rootfs driver has it.
    if (!isExecable(containers)) delete (this as Partial<VmRoutingDriver>).exec;
  }

  /** True when the qemu driver holds this workload (created, running or exited). */
  isVm(id: string): boolean {
    try {
      return existsSync(dirname(this.vms.logPath(id)));
    } catch {
      return false;
    }
  }

  private pick(id: string): ComputeDriver {
    return this.isVm(id) ? this.vms : this.containers;
  }

  capabilities(): Promise<ComputeCapabilities> {
    return this.containers.capabilities();
  }

  create(spec: WorkloadSpec): Promise<void> {
    return isVmImageRootfs(spec.imageRootfs) ? this.vms.create(spec) : this.containers.create(spec);
  }

  start(id: string): Promise<void> { return this.pick(id).start(id); }
  stop(id: string, opts?: StopOptions): Promise<void> { return this.pick(id).stop(id, opts); }
  async delete(id: string): Promise<void> {
    if (this.isVm(id)) await this.vms.delete(id);
    await this.containers.delete(id);
  }
  inspect(id: string): Promise<WorkloadStatus | undefined> { return this.pick(id).inspect(id); }
  async list(): Promise<WorkloadStatus[]> {
    return [...(await this.containers.list()), ...(await this.vms.list())];
  }
  logPath(id: string): string { return this.pick(id).logPath(id); }
  readLog(id: string, opts?: LogReadOptions): Promise<string> { return this.pick(id).readLog(id, opts); }
  stats(id: string): Promise<WorkloadStats> { return this.pick(id).stats(id); }

  resize = async (id: string, limits: WorkloadLimits): Promise<void> => {
    if (this.isVm(id)) return this.vms.resize(id, limits);
    if (!isLiveResizable(this.containers)) throw new YunError('CapabilityMissing', `the ${this.containers.name} driver cannot resize live`);
    await this.containers.resize(id, limits);
  };

  exec? = async (id: string, argv: string[], opts?: ExecOptions): Promise<ExecResult> => {
    if (this.isVm(id)) throw new YunError('CapabilityMissing', 'exec into VMs is not supported (no guest agent); use the serial console log');
    if (!isExecable(this.containers)) throw new YunError('CapabilityMissing', `the ${this.containers.name} driver cannot exec`);
    return this.containers.exec(id, argv, opts);
  };
}
