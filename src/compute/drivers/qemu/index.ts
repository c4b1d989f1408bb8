export { QemuDriver, type QemuDriverOptions } from './driver.ts';
export type { QemuCapabilities, QemuWorkloadOptions, QemuWorkloadSpec, VmImageManifest, VolumeAttachment, VolumeHotplug } from './types.ts';
export type { QemuNic } from './args.ts';
export { probeAccelerator, type Accelerator } from './probe.ts';
