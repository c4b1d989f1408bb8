/**
 * Test-only: the objects service (real S3 server) as a cloud module over the
 * cloud's own identity (access keys from `POST /v1/access-keys`), listening on
 * a free port that becomes `config.s3Port` — what the console's `/s3/` tunnel
 * and `/v1/regions` advertise. Stand-in until the objects service is wired
 * into `defaultModules`; IAM evaluation here is allow-all.
 */
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ApiContext } from '../../src/api/context.ts';
import { type ObjectIdentity, createObjectService } from '../../src/objects/index.ts';
import type { ServiceModule } from '../../src/services.ts';

export function testObjectsModule(): ServiceModule & { port?: number } {
  let stopSvc: (() => Promise<void>) | undefined;
  const m: ServiceModule & { port?: number } = {
    name: 'objects (test)',
    async start(ctx: ApiContext & { hostId: string }) {
      const identity: ObjectIdentity = {
        async lookupAccessKey(id) {
          const k = await ctx.identity.lookupAccessKey(id);
          return k && { secretAccessKey: k.secretAccessKey, userId: k.principal.userId, projectId: k.projectId, ownerDisplayName: k.principal.userName };
        },
        async authorize() { return 'allow'; },
        async checkQuota() {},
      };
      const svc = createObjectService({ store: ctx.store, dataDir: join(ctx.config.home, 'objects'), region: ctx.config.region, masterKeyPath: join(ctx.config.home, 'objects.key'), identity });
      await svc.init();
      const server = await svc.start(0, '127.0.0.1');
      m.port = (server.address() as AddressInfo).port;
      ctx.config.s3Port = m.port;
      stopSvc = () => svc.close();
    },
    async stop() { await stopSvc?.(); },
  };
  return m;
}
