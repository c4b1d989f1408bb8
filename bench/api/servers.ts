/**
 * Child-process servers for the API benchmark, so the load generator and
 * the server never share an event loop: `yun` (a whole cloud with the
 * generic widgets kind) or `bare` (a Fastify hello world).
 */
import Fastify from 'fastify';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCloud } from '../../src/cloud.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { widgetsModule } from '../../test/foundation/widgets.ts';

let home: string | undefined;
process.on('SIGTERM', () => {
  if (home) rmSync(home, { recursive: true, force: true }); // each run leaves tens of MB of state otherwise
  process.exit(0);
});
const kind = process.argv[2];
if (kind === 'bare') {
  const app = Fastify();
  app.get('/', async () => ({ hello: 'world' }));
  app.post('/', async (req) => ({ got: req.body }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send!({ url });
} else {
  home = await mkdtemp(join(tmpdir(), 'yun-bench-'));
  const config = resolveConfig({ home, apiPort: 0, store: process.env.BENCH_STORE }, {});
  const cloud = await startCloud(config, { modules: [widgetsModule], log: createLogger('silent') });
  const user = await cloud.ctx.identity.requireUser('admin');
  const { token } = await cloud.ctx.identity.createApiToken(user.id, { name: 'bench' });
  const def = await cloud.ctx.identity.requireProject('default');
  await cloud.ctx.identity.setQuota(def.id, 'instances', -1);
  process.send!({ url: cloud.apiUrl, token });
}
