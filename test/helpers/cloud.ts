import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cloud, type StartOptions, startCloud } from '../../src/cloud.ts';
import { type CloudConfig, resolveConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { YunClient } from '../../src/sdk/client.ts';

export interface TestCloud {
  cloud: Cloud;
  home: string;
  /** A client logged in as the bootstrap admin, acting in project `default`. */
  admin: YunClient;
  adminPassword: string;
  stop(): Promise<void>;
}

/**
 * A whole cloud on a temp home and free ports, listening on 127.0.0.1.
 * `store` defaults to a SQLite file in the home.
 */
export async function startTestCloud(o: { store?: string; modules?: StartOptions['modules'] | ((config: CloudConfig) => StartOptions['modules'] | Promise<StartOptions['modules']>); home?: string; keepHome?: boolean } = {}): Promise<TestCloud> {
  const home = o.home ?? await mkdtemp(join(tmpdir(), 'yun-test-'));
  const config = resolveConfig({ home, apiPort: 0, s3Port: 0, routerPort: 0, store: o.store }, {});
  const modules = typeof o.modules === 'function' ? await o.modules(config) : o.modules;
  const cloud = await startCloud(config, { modules, log: createLogger(process.env.YUN_TEST_LOG ?? 'silent') });
  const admin = new YunClient({ endpoint: cloud.apiUrl, project: 'default' });
  let adminPassword = cloud.bootstrap.password ?? '';
  if (cloud.bootstrap.created) {
    await admin.login(cloud.bootstrap.user, adminPassword);
  } else {
    const u = await cloud.ctx.identity.requireUser(cloud.bootstrap.user);
    admin.token = (await cloud.ctx.identity.createApiToken(u.id, { name: 'test' })).token;
  }
  return {
    cloud, home, admin, adminPassword,
    stop: async () => {
      await cloud.stop();
      if (!o.keepHome) await rm(home, { recursive: true, force: true });
    },
  };
}
