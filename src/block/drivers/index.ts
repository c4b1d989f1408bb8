import { YunError } from '../../core/errors.ts';
import { FileVolumeDriver } from './file/driver.ts';
import { Qcow2VolumeDriver } from './qcow2/driver.ts';
import type { VolumeDriver } from './types.ts';

export * from './types.ts';
export { FileVolumeDriver } from './file/driver.ts';
export { Qcow2VolumeDriver } from './qcow2/driver.ts';
export { filesystemType, growFilesystem, isMounted, mountForContainer, prepareFilesystem, unmount } from './mount.ts';

/** The registry: one entry per driver folder. `root` is the driver's own directory. */
export const volumeDrivers: Record<string, (opts: { root: string }) => VolumeDriver> = {
  file: (o) => new FileVolumeDriver(o),
  qcow2: (o) => new Qcow2VolumeDriver(o),
};

export function createVolumeDriver(name: string, opts: { root: string }): VolumeDriver {
  const make = volumeDrivers[name];
  if (!make) throw new YunError('ValidationFailed', `unknown volume driver '${name}' (known: ${Object.keys(volumeDrivers).join(', ')})`);
  return make(opts);
}
