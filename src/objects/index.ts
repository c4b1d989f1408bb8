/**
 * The objects service: S3-compatible object storage.
 *
 *   const svc = createObjectService({ store, dataDir, region, masterKeyPath, identity });
 *   await svc.init();                   // migrations, orphan collection
 *   await svc.start(8401, '127.0.0.1');  // or http.createServer(svc.handler)
 *   svc.startControllers();             // lifecycle
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Migration, StateStore } from '../store/types.ts';
import { createLocalBackend } from './backends/local.ts';
import type { ObjectBackend } from './backends/types.ts';
import { createEngine, type ObjectEngine } from './engine/index.ts';
import { createKeyRing, loadMasterKey } from './engine/keys.ts';
import { objectsMigrations } from './engine/migrations.ts';
import type { ObjectIdentity } from './identity.ts';
import { createS3Handler, type S3Handler } from './s3/server.ts';

export type { ObjectIdentity, AccessKeyInfo, AuthzDecision, AuthzPrincipal, StaticKey } from './identity.ts';
export { createStaticIdentity } from './identity.ts';
export { signRequest, presignUrl, type Credentials, type SignRequestInput, type SignedRequest, type PresignInput } from './s3/sigv4.ts';
export type { ObjectEngine } from './engine/index.ts';

interface Logger { info(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void; warn?(obj: unknown, msg?: string): void }

export interface ObjectServiceOptions {
  store: StateStore;
  /** Root of blob storage (`<dataDir>/tmp`, `<dataDir>/blobs`). Must be one filesystem. */
  dataDir: string;
  region: string;
  /** Virtual-hosted style base domain, e.g. `s3.localhost` → `<bucket>.s3.localhost`. */
  baseDomain?: string;
  /** 32-byte master key file for SSE-S3; created with mode 0600 when missing. */
  masterKeyPath: string;
  identity: ObjectIdentity;
  logger?: Logger;
  /** Lifecycle pass interval (ms); default 60 s. */
  lifecycleIntervalMs?: number;
  /** Length of a lifecycle "day" in ms (tests shrink it); default 86 400 000. */
  lifecycleDayMs?: number;
  /** Disable fsync (benchmarks of the non-durable floor only). */
  fsync?: boolean;
  backend?: ObjectBackend;
}

export interface ObjectService {
  migrations: Migration[];
  /** Runs migrations, loads the master key, prepares the backend, collects crash leftovers. Idempotent. */
  init(): Promise<void>;
  /** node:http request handler speaking S3 (call init() first). */
  handler: S3Handler;
  engine: ObjectEngine;
  start(port: number, host?: string): Promise<Server>;
  close(): Promise<void>;
  startControllers(): void;
  stopControllers(): void;
}

export function createObjectService(o: ObjectServiceOptions): ObjectService {
  const backend = o.backend ?? createLocalBackend({ root: o.dataDir, fsync: o.fsync });
  let engine: ObjectEngine | undefined;
  let handler: S3Handler | undefined;
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inited: Promise<void> | undefined;
  const log = o.logger;

  const init = () => {
    inited ??= (async () => {
      await o.store.migrate(objectsMigrations);
      const master = await loadMasterKey(o.masterKeyPath);
      engine = createEngine({ store: o.store, backend, keys: createKeyRing(master), identity: o.identity, region: o.region, onError: (e) => log?.error({ err: e }, 'blob deletion failed; will retry at start') });
      handler = createS3Handler({ engine, identity: o.identity, region: o.region, baseDomain: o.baseDomain, logger: log });
      const r = await engine.init();
      log?.info(r, 'objects service ready');
    })();
    return inited;
  };

  const svc: ObjectService = {
    migrations: objectsMigrations,
    init,
    handler: (req, res) => {
      if (!handler) { res.writeHead(503, { 'retry-after': '1' }); res.end(); return; }
      handler(req, res);
    },
    get engine() {
      if (!engine) throw new Error('objects service: call init() first');
      return engine;
    },
    async start(port, host = '127.0.0.1') {
      await init();
      server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, svc.handler);
      await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(port, host, () => resolve()); });
      return server;
    },
    async close() {
      svc.stopControllers();
      if (server) {
        const s = server;
        server = undefined;
        s.closeAllConnections?.();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
    startControllers() {
      if (timer) return;
      const every = o.lifecycleIntervalMs ?? 60_000;
      const tick = async () => {
        try {
          if (engine) {
            const s = await engine.runLifecycle(o.lifecycleDayMs);
            if (s.expired + s.noncurrent + s.aborted + s.markers > 0) log?.info(s, 'lifecycle pass');
          }
        } catch (e) { log?.error({ err: e }, 'lifecycle pass failed'); }
        if (timer) timer = setTimeout(tick, every);
      };
      timer = setTimeout(tick, every);
    },
    stopControllers() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
  return svc;
}

export const defaultMasterKeyPath = (dataDir: string) => join(dataDir, 'master.key');
