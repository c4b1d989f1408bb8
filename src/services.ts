import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './api/context.ts';
import type { Migration } from './store/types.ts';

/**
 * A service plugs into the cloud through one of these: its tables, its
 * routes, and what it runs in the background (controllers, servers).
 * `cloud.ts` lists them; a new service is one entry there.
 */
export interface ServiceModule {
  name: string;
  migrations?: Migration[];
  routes?(app: FastifyInstance, ctx: ApiContext): void | Promise<void>;
  /** Starts controllers/servers after the API is listening. */
  start?(ctx: ApiContext & { hostId: string }): Promise<void>;
  /** Stops what `start` started; must be safe to call when start failed. */
  stop?(): Promise<void>;
  /** One line per thing this service chose, for `yun doctor` and the start banner. */
  describe?(): Record<string, string>;
}
