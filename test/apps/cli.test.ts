/**
 * The `yun app …`, `yun apply|delete -f` and `yun get` commands run as the
 * real `yun` binary against a cloud with the fake compute driver (the data
 * path is covered by e2e.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { yunCli } from '../helpers/cli.ts';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { buildImage, startAppsCloud } from './helpers.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/hello.yaml');

test('yun app, apply, get, delete -f', { timeout: 180_000 }, async () => {
  const fake = new FakeHost();
  const cc = await startAppsCloud({ compute: { driver: new FakeDriver({ host: fake }) }, apps: { resyncMs: 300 } });
  const { yun, json } = yunCli({ endpoint: cc.tc.cloud.apiUrl, token: cc.c.token!, home: cc.home });
  try {
    await buildImage(cc.c, 'busybox', 'busybox');
    let d = await json('app', 'deploy', '--image', 'busybox', '--name', 'hello', '--port', '8080', '--replicas', '2', '--env', 'A=1', '--no-wait', '--', 'httpd', '-f', '-p', '8080');
    assert.equal(d.name, 'hello');
    assert.equal(d.replicas, 2);
    const a = await cc.c.request<{ spec: Record<string, unknown> }>('GET', '/v1/apps/hello');
    assert.deepEqual(a.spec.command, ['httpd', '-f', '-p', '8080']);
    assert.deepEqual(a.spec.env, { A: '1' });
    d = await json('app', 'deploy', '--image', 'busybox', '--name', 'hello', '--env', 'A=2', '--no-wait');
    assert.equal(d.replicas, 2, 'a redeploy keeps replicas');
    let r = await yun('app', 'history', 'hello');
    assert.match(r.stdout, /^1\s+busybox/m);
    assert.match(r.stdout, /^2\s+\*\s+busybox/m);
    d = await json('app', 'scale', 'hello', '3', '--no-wait');
    assert.equal(d.replicas, 3);
    d = await json('app', 'rollback', 'hello', '--no-wait');
    assert.deepEqual((await cc.c.request<{ spec: { env: unknown } }>('GET', '/v1/apps/hello')).spec.env, { A: '1' });
    r = await yun('app', 'status', 'hello');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /requests\/s\s+0/);
    assert.match(r.stdout, /p95 ms/);
    r = await yun('app', 'list');
    assert.match(r.stdout, /hello\s+busybox\s+3/);
    r = await yun('app', 'logs', 'hello');
    assert.equal(r.code, 0, r.stderr);

    // a folder without a runtime: the error names what was looked for
    const dir = join(cc.home, 'empty-app');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'notes.txt'), 'x');
    r = await yun('app', 'deploy', dir, '--name', 'nothing', '--no-wait');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /looked for package\.json \(Node\.js\)/);

    r = await yun('apply', '-f', FIXTURE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Deployment\s+web\s+created\s+app/);
    assert.match(r.stderr, /warning: document 3 \/spec\/template\/spec\/containers\/0\/imagePullPolicy/);
    r = await yun('apply', '-f', FIXTURE);
    assert.match(r.stdout, /Deployment\s+web\s+unchanged/);
    r = await yun('get', 'deployments');
    assert.match(r.stdout, /^web\s+\d\/2/m);
    r = await yun('get', 'services');
    assert.match(r.stdout, /web\s+LoadBalancer\s+app=web\s+80:8080/);
    r = await yun('get', 'hpa');
    assert.match(r.stdout, /web\s+web\s+2\s+5\s+cpu:60/);
    r = await yun('get', 'pods');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown kind 'pods'/);
    const bad = join(cc.home, 'bad.yaml');
    await writeFile(bad, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
    r = await yun('apply', '-f', bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml: document 1, \/kind: unsupported kind 'Pod'/);
    r = await yun('delete', '-f', FIXTURE);
    assert.match(r.stdout, /Deployment\s+web\s+deleted/);

    r = await yun('app', 'delete', 'hello');
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await cc.stop();
    fake.shutdown();
  }
});
