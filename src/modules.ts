import type { CloudConfig } from './core/config.ts';
import type { ServiceModule } from './services.ts';
import { computeModule } from './compute/module.ts';
import { vmSupport } from './compute/vm/module.ts';
import { blockModule } from './block/module.ts';
import { metadataTarget, networkModule } from './network/module.ts';
import { meteringModule } from './metering/module.ts';

/**
 * The services `yun up` runs, in start order. Each is built from the config
 * (no import-time state), so tests can build a second cloud in one process.
 */
export async function defaultModules(config: CloudConfig): Promise<ServiceModule[]> {
  const metadata = await metadataTarget(config);
  const network = await networkModule(config, { metadata: () => metadata });
  const vm = vmSupport(config);
  return [network, vm, computeModule(config, { networking: network.networking, metadataPort: metadata.port, wrapDriver: vm.wrap }), blockModule(config, { vm }), await meteringModule(config)];
}
