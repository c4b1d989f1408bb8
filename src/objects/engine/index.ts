/**
 * The protocol-neutral objects engine: one instance per service, built from
 * its dependencies (no module state). The S3 edge and the lifecycle
 * controller call the functions below with `engine.ctx`.
 */
import { ShortCache } from '../../identity/cache.ts';
import type { StateStore } from '../../store/types.ts';
import type { ObjectBackend } from '../backends/types.ts';
import type { ObjectIdentity } from '../identity.ts';
import * as buckets from './buckets.ts';
import { type EngineCtx, seqClock } from './context.ts';
import { collectOrphans, drainGcQueue, makeCollector } from './gc.ts';
import type { KeyRing } from './keys.ts';
import { runLifecycle } from './lifecycle.ts';
import { GroupCommitter } from './write.ts';
import * as listing from './listing.ts';
import * as multipart from './multipart.ts';
import * as objects from './objects.ts';

export interface EngineDeps {
  store: StateStore;
  backend: ObjectBackend;
  keys: KeyRing;
  identity: ObjectIdentity;
  region: string;
  now?: () => number;
  onError?: (e: unknown) => void;
}

export function createEngine(d: EngineDeps) {
  const now = d.now ?? Date.now;
  const ctx: EngineCtx = {
    store: d.store, backend: d.backend, keys: d.keys, identity: d.identity, region: d.region, now, nextSeq: seqClock(now),
    collect: () => undefined,
    buckets: new ShortCache(1000, 10_000),
    committer: undefined as unknown as EngineCtx['committer'],
  };
  ctx.committer = new GroupCommitter(ctx);
  ctx.collect = makeCollector(() => ctx, d.onError ?? (() => undefined));
  return {
    ctx,
    /** Prepares the backend, drains the deletion queue and removes blobs orphaned by a crash. Call before serving. */
    async init() {
      const startedAt = Date.now();
      const { removedTemp } = await d.backend.init();
      const drained = await drainGcQueue(ctx);
      const orphans = await collectOrphans(ctx, startedAt);
      return { removedTemp, drained, orphans };
    },
    runLifecycle: (dayMs?: number) => runLifecycle(ctx, dayMs),
    buckets,
    objects,
    multipart,
    listing,
  };
}

export type ObjectEngine = ReturnType<typeof createEngine>;
