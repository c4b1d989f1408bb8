export { QemuDriver, type QemuDriverOptions } from './driver.ts';
export type { QemuCapabilities, QemuWorkloadOptions, QemuWorkloadSpec, VmImageManifest, VolumeAttachment, VolumeCopyTarget, VolumeHotplug, VolumeLiveCopy } from './types.ts';
export type { QemuNic } from './args.ts';
export { probeAccelerator, type Accelerator } from './probe.ts';
