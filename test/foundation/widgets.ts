import { Type } from '@sinclair/typebox';
import { registerResource } from '../../src/api/resources.ts';
import type { ServiceModule } from '../../src/services.ts';

/**
 * A minimal project-scoped kind used to test the generic resource surface
 * (pagination, selectors, idempotency, concurrency, quotas, tenancy) apart
 * from any real service.
 */
export const widgetsModule: ServiceModule = {
  name: 'widgets',
  routes(app, ctx) {
    registerResource<{ size: number; color?: string }>(app, ctx, {
      kind: 'widget', plural: 'widgets', service: 'test', idPrefix: 'w', deletion: 'immediate',
      spec: Type.Object({ size: Type.Integer({ minimum: 1, maximum: 100 }), color: Type.Optional(Type.String()) }, { additionalProperties: false }),
      initialStatus: () => ({ state: 'ready' }),
      afterCreate: (r, c) => ctx.identity.consumeQuota(c.q, r.project, { instances: 1 }),
      beforeDelete: async (r, c) => ctx.identity.consumeQuota(c.q, r.project, { instances: -1 }),
    });
  },
};
