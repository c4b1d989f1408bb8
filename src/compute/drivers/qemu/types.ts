import type { ComputeCapabilities, WorkloadSpec } from '../types.ts';
import type { Accelerator } from './probe.ts';

/**
 * What a VM image directory holds: `image.json` in the directory that
 * `WorkloadSpec.imageRootfs` names (tiny-vm's builder and `importDiskImage`
 * write it). At least `kernel` or `disk` must be set.
 */
export interface VmImageManifest {
  /** Kernel for direct kernel boot (absolute, or relative to the image dir). */
  kernel?: string;
  initrd?: string;
  /** Kernel command line for direct kernel boot. */
  cmdline?: string;
  /** Base disk (qcow2 or raw). Each instance gets its own qcow2 overlay on it; the base is never written. */
  disk?: string;
  /** Line the guest prints on the serial console when it has booted (informational). */
  bootMarker?: string;
}

/** VM-only options that the generic `WorkloadSpec` has no room for. All optional. */
export interface QemuWorkloadOptions extends VmImageManifest {
  /** Virtual size of the instance's root disk overlay in GiB (≥ the base); default: the base's size. */
  rootDiskGb?: number;
  /** cloud-init network-config (YAML) for the NoCloud seed. */
  networkConfig?: string;
  /** Force an accelerator for this workload instead of the driver's probe result. */
  accelerator?: Accelerator;
}

/** `WorkloadSpec` plus VM options; `command`, `env`, `workingDir` and `netnsPath` are ignored by the qemu driver (it plugs in `nics`). */
export interface QemuWorkloadSpec extends WorkloadSpec {
  vm?: QemuWorkloadOptions;
}

/** A volume as the qemu driver needs it to plug it in. */
export interface VolumeAttachment {
  /** yun volume id, also the virtio serial the guest sees (first 20 chars). */
  volumeId: string;
  /** Host path of the volume's file. */
  path: string;
  format: 'raw' | 'qcow2';
  readOnly?: boolean;
}

/** Optional ability: attach/detach block volumes, live when the VM runs, persisted for the next boot either way. */
export interface VolumeHotplug {
  /**
   * Make the volume a virtio disk of the VM. When running, it is hot-plugged
   * (QMP blockdev-add + device_add) and the guest sees a new disk at once;
   * it is kept in the workload's state so later boots have it too.
   * Attaching an already attached volume id is a no-op. Throws `NotFound`.
   */
  attachVolume(id: string, volume: VolumeAttachment): Promise<void>;
  /**
   * Remove the disk. When running, it asks the guest to release it (ACPI
   * eject through QMP device_del) and waits up to `timeoutMs` (default 30 s)
   * for QEMU to confirm; throws `DriverFailed` if the guest never releases it
   * (the volume then stays attached). Detaching an unattached volume succeeds.
   */
  detachVolume(id: string, volumeId: string, opts?: { timeoutMs?: number }): Promise<void>;
  /**
   * Grow an attached volume while the VM runs (QMP block_resize); the guest
   * sees the new capacity at once. For qcow2 this grows the image itself
   * (the live form of VolumeDriver.extend, which refuses images in use); for
   * raw, grow the file first (VolumeDriver.extend) and then call this. A
   * no-op while the VM is not running (the next boot sees the file's size).
   * Throws `NotFound` if the volume is not attached.
   */
  resizeVolume(id: string, volumeId: string, sizeBytes: number): Promise<void>;
  /** Volumes currently attached (by volume id). Throws `NotFound`. */
  attachedVolumes(id: string): Promise<VolumeAttachment[]>;
}

/** Where `VolumeLiveCopy.copyVolume` writes: a file already made with the format, size and backing file it needs. */
export interface VolumeCopyTarget {
  path: string;
  format: 'raw' | 'qcow2';
  /** `full`: every block; `top`: only what the volume's own file holds (the target's backing file has the rest). */
  sync: 'full' | 'top';
}

/** Optional ability: a point-in-time copy of an attached volume while the VM runs (live snapshots). */
export interface VolumeLiveCopy {
  /**
   * Copies the attached volume into `target` as it is at the call (QMP
   * blockdev-backup: blocks the guest writes meanwhile are copied out
   * first) and returns when the target is complete and closed. The guest
   * keeps running; nothing asks it to flush, so the copy is
   * crash-consistent. Throws `NotFound` if the volume is not attached,
   * `InvalidState` if the VM is not running (copy the file itself then),
   * `DriverFailed` if QEMU fails or `timeoutMs` passes (the job is
   * cancelled; the caller removes the target file).
   */
  copyVolume(id: string, volumeId: string, target: VolumeCopyTarget, opts?: { speedBytesPerSec?: number; timeoutMs?: number }): Promise<void>;
}

export interface QemuCapabilities extends ComputeCapabilities {
  accelerator: Accelerator;
  /** e.g. the KVM fallback reason. */
  warnings: string[];
  /** Implements `VolumeHotplug`. */
  volumeHotplug: boolean;
}
