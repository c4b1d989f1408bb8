/**
 * In-process API tests for apps (fake compute driver): validation,
 * revisions and history, rollback, scale, replicas as owned instances,
 * deletion through the finalizer, source upload checks, Kubernetes apply.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AppsCloud, buildImage, startAppsCloud } from '../../test/apps/helpers.ts';
import { FakeDriver, FakeHost } from '../compute/drivers/fake/driver.ts';

const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { status?: number; code?: string }) => `${e.status} ${e.code}`);
type R = { id: string; name: string; labels: Record<string, string>; spec: Record<string, unknown>; status: Record<string, unknown>; ownerId?: string };
const waitFor = async (fn: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await fn()) return true; await new Promise((r) => setTimeout(r, 100)); }
  return false;
};

describe('apps API', () => {
  let cc: AppsCloud;
  const fake = new FakeHost();
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'yun-appsapi-'));
    cc = await startAppsCloud({ compute: { driver: new FakeDriver({ host: fake }) }, apps: { resyncMs: 300 } });
    await buildImage(cc.c, 'busybox', 'busybox');
  });
  after(async () => { await cc.stop(); fake.shutdown(); await rm(tmp, { recursive: true, force: true }); });

  const apps = () => cc.c.resource<Record<string, unknown>>('apps');
  const replicas = async (name: string) => (await cc.c.request<{ items: R[] }>('GET', `/v1/apps/${name}/replicas`)).items.filter((i) => !(i as { deletionTimestamp?: string }).deletionTimestamp);

  it('validates: image xor source, command for images, unknown image, bad port, bad strategy, unknown fields', async () => {
    const create = (spec: Record<string, unknown>, name = 'bad') => apps().create(name, spec);
    await assert.rejects(create({ port: 80, replicas: 1, command: ['x'] }), /exactly one of image/);
    await assert.rejects(create({ image: 'busybox', port: 80, replicas: 1 }), /need a command/);
    await assert.rejects(create({ image: 'nope', port: 80, replicas: 1, command: ['x'] }), /image 'nope' not found/);
    assert.equal(await code(create({ image: 'busybox', port: 0, replicas: 1, command: ['x'] })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], strategy: { maxSurge: '150%' } })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], bogus: 1 })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], flavor: 'm1.tiny', cpus: 1 })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], secretRefs: [{ env: 'A', secret: 'missing', key: 'k' }] })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], healthCheck: { type: 'tcp', path: '/x' } })), '400 ValidationFailed');
    assert.equal(await code(create({ image: 'busybox', port: 80, replicas: 1, command: ['x'], domains: ['x.apps.localhost'] })), '400 ValidationFailed');
  });

  it('replicas are owned instances; revisions, history, rollback, scale; delete removes children', async () => {
    await cc.c.request('POST', '/v1/app-secrets', { body: { name: 'db', spec: { data: { password: 's3cret' } } } });
    const a = await apps().create('hello', { image: 'busybox', port: 8080, replicas: 2, command: ['httpd', '-f', '-p', '8080'], env: { A: '1' }, secretRefs: [{ env: 'DB_PASSWORD', secret: 'db', key: 'password' }] }) as R;
    assert.ok(await waitFor(async () => (await replicas('hello')).length === 2));
    const rs = await replicas('hello');
    for (const i of rs) {
      assert.equal(i.ownerId, a.id);
      assert.equal(i.labels.app, 'hello');
      assert.equal(i.labels.revision, '1');
      assert.deepEqual((i.spec as { env: Record<string, string> }).env, { PORT: '8080', A: '1', DB_PASSWORD: 's3cret' });
      assert.deepEqual(i.spec.command, ['httpd', '-f', '-p', '8080']);
      assert.equal(i.spec.restartPolicy, 'always');
    }
    // quota: two instances counted
    const q = await cc.c.request<{ items: { resource: string; used: number }[] }>('GET', '/v1/projects/default/quotas').catch(() => undefined);
    if (q) assert.ok((q.items.find((x) => x.resource === 'instances')?.used ?? 0) >= 2);

    // a template change is a new revision; replicas-only changes are not
    await cc.c.request('POST', '/v1/apps/hello/scale', { body: { replicas: 3 } });
    const cur = await apps().get('hello') as R;
    await apps().update('hello', { spec: { ...cur.spec, env: { A: '2' } } });
    let hist = (await cc.c.request<{ items: { spec: { revision: number }; current: boolean }[] }>('GET', '/v1/apps/hello/revisions')).items;
    assert.deepEqual(hist.map((h) => [h.spec.revision, h.current]), [[1, false], [2, true]]);
    // the rollout makes revision-2 replicas (the fake driver runs nothing, so old ones stay: nothing is ready)
    assert.ok(await waitFor(async () => (await replicas('hello')).some((i) => i.labels.revision === '2')));

    // rollback to the previous revision reuses revision 1, keeps replicas
    const rb = await cc.c.request<R>('POST', '/v1/apps/hello/rollback', { body: {} });
    assert.deepEqual(rb.spec.env, { A: '1' });
    assert.equal(rb.spec.replicas, 3);
    hist = (await cc.c.request<{ items: { spec: { revision: number }; current: boolean }[] }>('GET', '/v1/apps/hello/revisions')).items;
    assert.deepEqual(hist.map((h) => [h.spec.revision, h.current]), [[1, true], [2, false]]);
    await assert.rejects(cc.c.request('POST', '/v1/apps/hello/rollback', { body: { revision: 9 } }), /not kept/);
    await cc.c.request('POST', '/v1/apps/hello/rollback', { body: { revision: 2 } });
    assert.deepEqual((await apps().get('hello')).spec.env, { A: '2' });

    const st = await cc.c.request<{ status: { currentRevision?: number }; traffic: { requestsPerSecond: number } }>('GET', '/v1/apps/hello/status');
    assert.equal(st.traffic.requestsPerSecond, 0);
    assert.ok(await waitFor(async () => (await cc.c.request<{ status: { currentRevision?: number } }>('GET', '/v1/apps/hello/status')).status.currentRevision === 2));

    // delete: finalizer removes every replica, the revisions, then the app
    await apps().delete('hello');
    assert.ok(await waitFor(async () => apps().get('hello').then(() => false, () => true), 20_000), 'app gone');
    const left = (await cc.c.request<{ items: R[] }>('GET', '/v1/instances')).items.filter((i) => i.labels.app === 'hello');
    assert.equal(left.length, 0);
  });

  it('a crash-looping replica: CrashLoopBackOff with the restart count', async () => {
    await apps().create('crashy', { image: 'busybox', port: 80, replicas: 1, command: ['sh', '-c', 'exit 3'] });
    const a = await cc.c.resource('apps').waitFor('crashy', (x) => x.status.state === 'CrashLoopBackOff', 60_000);
    assert.match(String(a.status.message), /replica crashy-r1-\w+ restarted [3-9] times/);
    await apps().delete('crashy');
    assert.ok(await waitFor(async () => apps().get('crashy').then(() => false, () => true), 20_000));
  });

  it('revision history is pruned to revisionHistoryLimit', async () => {
    await apps().create('hist', { image: 'busybox', port: 80, replicas: 0, command: ['true'], revisionHistoryLimit: 2 });
    for (const v of ['2', '3', '4']) {
      const cur = await apps().get('hist') as R;
      await apps().update('hist', { spec: { ...cur.spec, env: { V: v } } });
    }
    const hist = (await cc.c.request<{ items: { spec: { revision: number } }[] }>('GET', '/v1/apps/hist/revisions')).items;
    assert.deepEqual(hist.map((h) => h.spec.revision), [3, 4]);
    await apps().delete('hist');
  });

  it('source upload: runtime detection, clear error without one', async () => {
    const put = async (dir: string, name: string) => {
      const tar = execFileSync('tar', ['-c', '-C', dir, '.']);
      const res = await fetch(`${cc.c.endpoint}/v1/apps/${name}/source?port=8081`, { method: 'POST', headers: { authorization: `Bearer ${cc.c.token}`, 'x-yun-project': 'default', 'content-type': 'application/x-tar' }, body: tar });
      return { status: res.status, body: await res.json() as R & { detail?: string } };
    };
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'README'), 'nothing here');
    const bad = await put(empty, 'nothing');
    assert.equal(bad.status, 400);
    assert.match(bad.body.detail!, /looked for package\.json \(Node\.js\), requirements\.txt or main\.py \(Python\), index\.html/);

    const site = join(tmp, 'site');
    await mkdir(site, { recursive: true });
    await writeFile(join(site, 'index.html'), '<h1>hi</h1>');
    const ok = await put(site, 'site');
    assert.equal(ok.status, 201);
    assert.equal((ok.body.spec.source as { runtime: string }).runtime, 'static');
    assert.equal(ok.body.spec.port, 8081);
    // the builder makes an image from busybox + /app
    const rev = await cc.c.resource('app-revisions').get('site-r1').catch(() => undefined);
    void rev;
    const done = await waitFor(async () => {
      const h = (await cc.c.request<{ items: { status: { state: string } }[] }>('GET', '/v1/apps/site/revisions')).items;
      return h[0]?.status.state === 'ready';
    }, 30_000);
    assert.ok(done, `source revision built: ${JSON.stringify((await cc.c.request<{ items: { status: unknown }[] }>('GET', '/v1/apps/site/revisions')).items[0]?.status)}`);
    const img = await cc.c.resource('images').get('site-src-r1');
    assert.equal(img.status.state, 'available');
    assert.ok(await waitFor(async () => (await replicas('site')).length === 1));
    const r = (await replicas('site'))[0]!;
    assert.deepEqual(r.spec.command, ['httpd', '-f', '-p', '8081', '-h', '/app']);
    await apps().delete('site');
  });

  it('apply: Deployment + Service + HPA + ConfigMap + Secret; re-apply is a no-op; changes roll out; delete -f', async () => {
    const manifest = await readFile(join(import.meta.dirname, '../../test/apps/fixtures/hello.yaml'), 'utf8');
    const r1 = await cc.c.request<{ results: { kind: string; action: string }[]; warnings: { path: string }[] }>('POST', '/v1/apply', { body: { manifest, file: 'hello.yaml' } });
    assert.deepEqual(r1.results.map((r) => `${r.kind}:${r.action}`), ['ConfigMap:created', 'Secret:created', 'Deployment:created', 'Service:created', 'HorizontalPodAutoscaler:created']);
    assert.ok(r1.warnings.some((w) => w.path.endsWith('/imagePullPolicy')), JSON.stringify(r1.warnings));
    const app = await apps().get('web') as R;
    assert.equal(app.spec.replicas, 2);
    assert.equal(app.spec.image, 'busybox');
    assert.equal(app.spec.cpus, 0.25);
    assert.equal(app.spec.memoryMb, 64);
    assert.deepEqual(app.spec.healthCheck, { type: 'http', path: '/', intervalSeconds: 1, timeoutSeconds: 1, unhealthyThreshold: 2 });
    assert.deepEqual(app.spec.strategy, { maxSurge: 1, maxUnavailable: 0 });
    const hpa = await cc.c.resource('app-autoscalers').get('web');
    assert.deepEqual(hpa.spec, { target: { kind: 'app', name: 'web' }, minReplicas: 2, maxReplicas: 5, metrics: [{ type: 'cpu', target: 60 }] });
    assert.deepEqual((await cc.c.resource('app-secrets').get('web-secret')).spec, { data: { token: 'hunter2' } });

    const r2 = await cc.c.request<{ results: { action: string }[] }>('POST', '/v1/apply', { body: { manifest, file: 'hello.yaml' } });
    assert.ok(r2.results.every((r) => r.action === 'unchanged'), JSON.stringify(r2.results));
    const hist1 = (await cc.c.request<{ items: unknown[] }>('GET', '/v1/apps/web/revisions')).items.length;
    const changed = manifest.replace('value: "one"', 'value: "two"');
    const r3 = await cc.c.request<{ results: { kind: string; action: string }[] }>('POST', '/v1/apply', { body: { manifest: changed } });
    assert.equal(r3.results.find((r) => r.kind === 'Deployment')?.action, 'configured');
    assert.equal((await cc.c.request<{ items: unknown[] }>('GET', '/v1/apps/web/revisions')).items.length, hist1 + 1);

    // bad documents: error names file, document and path; nothing half-applied
    await assert.rejects(cc.c.request('POST', '/v1/apply', { body: { manifest: `${manifest}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\n`, file: 'hello.yaml' } }),
      (e: Error & { field?: string }) => /hello\.yaml: document 6, \/kind: unsupported kind 'Pod'/.test(e.message) && e.field === '/kind');
    await assert.rejects(cc.c.request('POST', '/v1/apply', { body: { manifest: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: y}\nspec: {replicas: two}\n', file: 'y.yaml' } }),
      /y\.yaml: document 1, \/spec\/replicas: must be an integer/);

    const del = await cc.c.request<{ results: { action: string }[] }>('POST', '/v1/apply/delete', { body: { manifest } });
    assert.ok(del.results.every((r) => r.action === 'deleted'));
    assert.ok(await waitFor(async () => apps().get('web').then(() => false, () => true), 20_000));
  });
});
