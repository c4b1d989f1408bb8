import type { CloudConfig } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Authorizer } from '../identity/authorizer.ts';
import type { IdentityService } from '../identity/service.ts';
import type { Principal, Scope } from '../identity/types.ts';
import type { EventBus } from '../store/resources.ts';
import type { StateStore } from '../store/types.ts';

/** What every service's routes receive: the shared plumbing, built once per cloud (no singletons). */
export interface ApiContext {
  config: CloudConfig;
  store: StateStore;
  bus: EventBus;
  identity: IdentityService;
  authz: Authorizer;
  log: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The project this request acts in (from `X-Yun-Project` or `?project=`), resolved on first use. */
    scope(): Promise<Scope>;
  }
  interface FastifySchema {
    summary?: string;
    tags?: string[];
    /** Left out of the OpenAPI document. */
    hide?: boolean;
  }
  interface FastifyContextConfig {
    /** Routes are authenticated unless they say `auth: false`. */
    auth?: boolean;
  }
}
