import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './api/context.ts';
import { buildApi } from './api/server.ts';
import { consoleRoutes, defaultConsoleDist } from './console/serve.ts';
import type { CloudConfig } from './core/config.ts';
import { loadOrCreateKey } from './core/files.ts';
import { type Logger, createLogger } from './core/log.ts';
import { Authorizer } from './identity/authorizer.ts';
import { identityMigrations } from './identity/migrations.ts';
import { identityRoutes } from './identity/routes.ts';
import { IdentityService } from './identity/service.ts';
import { heartbeat, hostRoutes, registerLocalHost } from './scheduler/hosts.ts';
import type { ServiceModule } from './services.ts';
import { openStore } from './store/index.ts';
import { EventBus, coreMigrations } from './store/resources.ts';
import type { StateStore } from './store/types.ts';

export interface Cloud {
  config: CloudConfig;
  ctx: ApiContext;
  api: FastifyInstance;
  apiUrl: string;
  hostId: string;
  /** Set on the first start only: the generated admin password. */
  bootstrap: { created: boolean; user: string; password?: string };
  modules: ServiceModule[];
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Extra service modules (compute, network, objects…) — see `defaultModules`. */
  modules?: ServiceModule[];
  /** Do not bind ports (in-process tests use `api.inject`). */
  listen?: boolean;
}

/** Builds and starts a whole cloud from a config: store, identity, API, services. */
export async function startCloud(config: CloudConfig, o: StartOptions = {}): Promise<Cloud> {
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  const log = o.log ?? createLogger(config.logLevel);
  // WAL + synchronous=NORMAL: a commit survives kill -9 of yun (it is in the OS
  // before we answer); only a power loss may drop the last few commits, never
  // tear one. FULL would cap the API at one fsync per create.
  const store: StateStore = await openStore(config.store, { sqlite: { synchronous: 'NORMAL' } });
  const modules = o.modules ?? [];
  try {
    await store.migrate([...coreMigrations, ...identityMigrations, ...modules.flatMap((m) => m.migrations ?? [])]);
    const masterKey = await loadOrCreateKey(join(config.home, 'master.key'));
    const identity = new IdentityService({ store, masterKey, tokenTtlSeconds: config.tokenTtlSeconds });
    const authz = new Authorizer(identity, config.region);
    const bus = new EventBus(store);
    const ctx: ApiContext = { config, store, bus, identity, authz, log };
    const bootstrap = await identity.bootstrap(config.adminUser);
    const host = await registerLocalHost(store, { zone: config.zone, dataDir: config.home, drivers: modules.flatMap((m) => Object.values(m.describe?.() ?? {})) });
    const api = await buildApi({ ctx, modules: [identityRoutes, hostRoutes, ...modules.flatMap((m) => (m.routes ? [m.routes.bind(m)] : []))], extra: consoleRoutes({ dist: defaultConsoleDist(), s3Endpoint: () => (config.s3Port ? `http://${config.host}:${config.s3Port}` : undefined) }) });
    bus.start();
    const beat = setInterval(() => { void heartbeat(store, host.id).catch((err) => log.warn({ err }, 'heartbeat failed')); }, 30_000);
    beat.unref();
    let apiUrl = `http://${config.host}:${config.apiPort}`;
    if (o.listen !== false) {
      apiUrl = await api.listen({ host: config.host, port: config.apiPort });
      if (config.apiPort === 0) config.apiPort = Number(new URL(apiUrl).port);
    } else {
      await api.ready();
    }
    const started: ServiceModule[] = [];
    for (const m of modules) {
      await m.start?.({ ...ctx, hostId: host.id });
      started.push(m);
    }
    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= (async () => {
      clearInterval(beat);
      for (const m of started.reverse()) await m.stop?.().catch((err) => log.error({ err, service: m.name }, 'stop failed'));
      await api.close();
      bus.stop();
      await store.close();
    })());
    return { config, ctx, api, apiUrl, hostId: host.id, bootstrap, modules, stop };
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
}
