import type { CloudConfig } from './core/config.ts';
import type { ServiceModule } from './services.ts';
import type { RouterMetrics } from './apps/metrics.ts';
import { autoscaleModule } from './autoscale/module.ts';
import { monitorModule } from './monitor/module.ts';
import { computeModule } from './compute/module.ts';
import { vmSupport } from './compute/vm/module.ts';
import { blockModule } from './block/module.ts';
import { metadataTarget, networkModule } from './network/module.ts';
import { meteringModule } from './metering/module.ts';
import { objectsModule } from './objects/module.ts';
import { appsModule } from './apps/module.ts';

/**
 * The services `yun up` runs, in start order. Each is built from the config
 * (no import-time state), so tests can build a second cloud in one process.
 */
export async function defaultModules(config: CloudConfig): Promise<ServiceModule[]> {
  const metadata = await metadataTarget(config);
  const metering = await meteringModule(config);
  const network = await networkModule(config, { metadata: () => metadata, metering });
  const vm = vmSupport(config);
  const compute = computeModule(config, { networking: network.networking, metadataPort: metadata.port, wrapDriver: vm.wrap });
  const list: ServiceModule[] = [objectsModule(config, { metering }), network, vm, compute, blockModule(config, { vm }), metering, appsModule(config, { compute, metering })];
  // Monitoring and autoscaling read the apps router's traffic when an `apps` module is in the list.
  const router = () => (list.find((m) => m.name === 'apps') as { metrics?: RouterMetrics } | undefined)?.metrics;
  const monitor = monitorModule(config, { stats: () => compute.driver, router });
  list.push(monitor, autoscaleModule(config, { db: monitor.db, images: () => compute.images, router }));
  return list;
}
