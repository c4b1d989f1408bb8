export { buildTinyVmImage, packInitramfs, TINY_VM_MODULES, type TinyVmImage } from './tiny.ts';
export { TINY_VM_BOOT_MARKER } from './init-script.ts';
export { defaultCacheDir, fetchDebianKernel, type DebianKernel } from './kernel.ts';
export { importDiskImage, type DiskImageInfo } from './disk.ts';
export { resolveModules } from './modules.ts';
