import type { CloudConfig } from './core/config.ts';
import type { ServiceModule } from './services.ts';

/**
 * The services `yun up` runs, in start order. Each is built from the config
 * (no import-time state), so tests can build a second cloud in one process.
 */
export async function defaultModules(_config: CloudConfig): Promise<ServiceModule[]> {
  return [];
}
