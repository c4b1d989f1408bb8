/**
 * Source deploys end to end on crun: a Node.js folder (package.json with a
 * start script) and a static site (index.html) uploaded, built into images,
 * run as replicas and reached through the router; a redeploy of changed
 * source rolls out; a folder that fails to build leaves the previous
 * revision serving.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../../src/core/config.ts';
import { metadataTarget, networkModule } from '../../src/network/module.ts';
import { apps } from '../../src/sdk/apps.ts';
import { requireCapability } from '../helpers/capability.ts';
import { needLinux, rmrf, scrub, tmp } from '../network-service/helpers.ts';
import { type AppsCloud, buildImage, httpGet, startAppsCloud } from './helpers.ts';

const PREFIX = 'yas';
const tar = (dir: string) => execFileSync('tar', ['-cz', '-C', dir, '.']);

const server = (msg: string) => `const http = require('node:http');
http.createServer((req, res) => res.end(${JSON.stringify(msg)} + ' ' + process.env.PORT + '\\n')).listen(Number(process.env.PORT));
`;

test('source deploys on crun: Node.js app and static site through the router', { timeout: 900_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  if (!requireCapability(t, existsSync('/usr/bin/crun') || existsSync('/usr/sbin/runc'), 'crun or runc is not installed (apt-get install crun)')) return;
  await scrub(PREFIX);
  const stateDir = await tmp('yun-apps-src-state-');
  const work = await tmp('yun-apps-src-work-');
  let cc: AppsCloud | undefined;
  try {
    cc = await startAppsCloud({
      before: async (home) => {
        const config = resolveConfig({ home }, {});
        const md = await metadataTarget(config);
        const net = await networkModule(config, { driver: 'linux', prefix: PREFIX, stateDir, resyncMs: 500, metadata: () => md });
        return { modules: [net], compute: { driver: 'oci', networking: net.networking, metadataPort: md.port } };
      },
    });
    const c = apps(cc.c);
    const port = cc.routerPort();
    await buildImage(cc.c, 'busybox', 'busybox');
    await buildImage(cc.c, 'node', 'node');

    const node = join(work, 'shop');
    await mkdir(node, { recursive: true });
    await writeFile(join(node, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' } }));
    await writeFile(join(node, 'server.js'), server('shop v1'));
    const t0 = Date.now();
    await c.deploySource('shop', tar(node), { port: 3000, replicas: 2 });
    await c.waitAvailable('shop', { timeoutMs: 180_000 });
    const body = (await httpGet(port, 'shop.default.apps.localhost')).body;
    t.diagnostic(`node app: deploy → first 200 through the router in ${Date.now() - t0} ms`);
    assert.equal(body, 'shop v1 3000\n');

    // changed source rolls out a new revision
    await writeFile(join(node, 'server.js'), server('shop v2'));
    await c.deploySource('shop', tar(node));
    await c.waitAvailable('shop', { timeoutMs: 180_000 });
    const a = await c.get('shop');
    assert.equal(a.status.currentRevision, 2);
    assert.equal((await httpGet(port, 'shop.default.apps.localhost')).body, 'shop v2 3000\n');

    // a build that fails (dependencies not in the offline npm cache) keeps revision 2 serving
    await writeFile(join(node, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.1', scripts: { start: 'node server.js' }, dependencies: { 'yun-no-such-package-xyz': '1.0.0' } }));
    await c.deploySource('shop', tar(node));
    const failed = await cc.c.resource('apps').waitFor('shop', (x) => ['Degraded', 'Failed'].includes(String(x.status.state)) && String(x.status.message).includes('failed to build'), 120_000);
    assert.match(String(failed.status.message), /revision 3 failed to build: npm install failed.*previous revision keeps serving/);
    const hist = await c.history('shop');
    assert.match(String(hist.items.find((r) => r.spec.revision === 3)?.status.buildLog), /npm install --omit=dev --offline/);
    assert.equal((await httpGet(port, 'shop.default.apps.localhost')).body, 'shop v2 3000\n');
    await c.rollback('shop', 2);
    await c.waitAvailable('shop', { timeoutMs: 60_000 });

    // static site
    const site = join(work, 'site');
    await mkdir(site, { recursive: true });
    await writeFile(join(site, 'index.html'), '<h1>static yun</h1>\n');
    await c.deploySource('site', tar(site), { port: 8000 });
    await c.waitAvailable('site', { timeoutMs: 120_000 });
    assert.equal((await httpGet(port, 'site.default.apps.localhost')).body, '<h1>static yun</h1>\n');

    for (const n of ['shop', 'site']) await c.delete(n);
    for (const n of ['shop', 'site']) await cc.c.resource('apps').waitFor(n, () => false, 60_000).catch(() => undefined);
    const left = (await cc.c.request<{ items: { labels: Record<string, string> }[] }>('GET', '/v1/instances')).items;
    assert.equal(left.length, 0);
  } finally {
    await cc?.stop();
    await scrub(PREFIX);
    await rmrf(stateDir);
    await rmrf(work);
  }
});
