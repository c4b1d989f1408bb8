import { join } from 'node:path';
import type { ApiContext } from '../api/context.ts';
import type { CloudConfig } from '../core/config.ts';
import { YunError } from '../core/errors.ts';
import { ShortCache } from '../identity/cache.ts';
import type { Principal } from '../identity/types.ts';
import type { ServiceModule } from '../services.ts';
import { type GaugeSource, type UsageSink, bucketBytesGauge, recordUsageToSink } from '../metering/sink.ts';
import { objectsMigrations } from './engine/migrations.ts';
import type { ObjectIdentity } from './identity.ts';
import { type ObjectService, createObjectService } from './index.ts';

/**
 * Identity as the S3 edge sees it: access keys, the one authorizer (roles +
 * IAM policies; bucket policies and ACLs are combined by the S3 handler),
 * and project quotas on buckets and stored bytes.
 */
export function objectIdentity(ctx: ApiContext, recordUsage?: ObjectIdentity['recordUsage']): ObjectIdentity {
  const principals = new ShortCache(1000);
  const usedBytes = new Map<string, { at: number; bytes: number }>();
  const principalOf = (accessKeyId: string) => principals.get(accessKeyId, async () => (await ctx.identity.lookupAccessKey(accessKeyId))?.principal);
  return {
    ...(recordUsage ? { recordUsage } : {}),
    async lookupAccessKey(id) {
      const k = await ctx.identity.lookupAccessKey(id);
      return k && { secretAccessKey: k.secretAccessKey, userId: k.principal.userId, projectId: k.projectId, ownerDisplayName: k.principal.userName };
    },
    async authorize(p, action, arn, context) {
      const principal: Principal | undefined = await principalOf(p.accessKeyId);
      if (!principal) return 'implicit-deny';
      try {
        const scope = await ctx.authz.scope(principal, p.projectId);
        return await ctx.authz.decide(principal, scope, action, arn, { ...context });
      } catch (e) {
        if (e instanceof YunError && e.code === 'NotFound') return 'implicit-deny';
        throw e;
      }
    },
    async checkQuota(projectId, resource, delta) {
      if (resource === 'buckets') {
        await ctx.identity.consumeQuota(ctx.store, projectId, { buckets: delta });
        return;
      }
      if (delta <= 0) return;
      const q = (await ctx.identity.quotas(projectId)).find((x) => x.resource === 'storage_gb');
      if (!q || q.limit < 0) return;
      // Stored bytes per project, re-read at most every 2 s and advanced by accepted writes in between.
      const now = Date.now();
      let u = usedBytes.get(projectId);
      if (!u || now - u.at > 2000) {
        // The buckets' byte counters (every version, kept in each write's transaction): no scan of the versions.
        const row = await ctx.store.get<{ n: number | null }>('SELECT SUM(bytes) AS n FROM objects_buckets WHERE project_id = ?', [projectId]);
        u = { at: now, bytes: Number(row?.n ?? 0) };
        usedBytes.set(projectId, u);
      }
      const GiB = 2 ** 30;
      if (u.bytes / GiB + delta > q.limit) {
        throw new YunError('QuotaExceeded', `quota exceeded for storage_gb: limit ${q.limit}, used ${(u.bytes / GiB).toFixed(3)}`, { field: 'storage_gb' });
      }
      u.bytes += delta * GiB;
    },
  };
}

export interface ObjectsModuleOptions {
  /** Metering: S3 requests and bytes out are recorded here, and bucket sizes sampled. */
  metering?: { sink: UsageSink; addGauge(g: GaugeSource): void };
}

/** The S3 endpoint as one of `yun up`'s services. */
export function objectsModule(config: CloudConfig, o: ObjectsModuleOptions = {}): ServiceModule & { service?: ObjectService } {
  const m: ServiceModule & { service?: ObjectService } = {
    name: 'objects',
    migrations: objectsMigrations,
    async start(ctx) {
      const dataDir = join(config.home, 'objects');
      m.service = createObjectService({
        store: ctx.store, dataDir, region: config.region, baseDomain: config.s3BaseDomain,
        masterKeyPath: join(dataDir, 'master.key'), identity: objectIdentity(ctx, o.metering && recordUsageToSink(o.metering.sink)), logger: ctx.log.child({ service: 'objects' }),
      });
      await m.service.init();
      o.metering?.addGauge(bucketBytesGauge(() => bucketSizes(ctx)));
      const server = await m.service.start(config.s3Port, config.host);
      if (config.s3Port === 0) config.s3Port = (server.address() as { port: number }).port;
      m.service.startControllers();
    },
    async stop() {
      m.service?.stopControllers();
      await m.service?.close();
    },
    describe: () => ({ endpoint: `S3 on http://${config.host}:${config.s3Port} (path and virtual-host style, *.${config.s3BaseDomain})`, backend: `local disk under ${join(config.home, 'objects')}` }),
  };
  return m;
}

/** Bytes stored per bucket (every version, as S3 bills), for the storage meter. */
async function bucketSizes(ctx: ApiContext): Promise<{ project: string; bucket: string; bytes: number }[]> {
  const rows = await ctx.store.all<{ project_id: string; name: string; n: number | null }>('SELECT project_id, name, bytes AS n FROM objects_buckets');
  return rows.map((r) => ({ project: r.project_id, bucket: r.name, bytes: Number(r.n ?? 0) }));
}
