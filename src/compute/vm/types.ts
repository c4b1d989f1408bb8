/** Instance type checks shared by the compute API (pure: no I/O). */
import { invalid } from '../../core/errors.ts';
import type { ImageSpec, InstanceSpec } from '../types.ts';
import { isVmImageSource } from './images.ts';

/** `type: vm` needs a VM image and a VM image needs `type: vm`: refused with the reason before anything is made. */
export function checkInstanceType(spec: Pick<InstanceSpec, 'type' | 'image'>, img: { spec: ImageSpec }): void {
  const vmImage = isVmImageSource(img.spec.source as { build?: string; upload?: string });
  const vm = spec.type === 'vm';
  if (vm && !vmImage) throw invalid('/spec/image', `image '${spec.image}' is a container image; VMs need a VM image (yun image build tiny-vm, or yun image import disk.qcow2 --format disk)`);
  if (!vm && vmImage) throw invalid('/spec/type', `image '${spec.image}' is a VM image; create the instance with type vm (--type vm)`);
}
