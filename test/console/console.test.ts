/**
 * The web console end to end: a real cloud (compute included) serving the
 * built console, driven by Debian's chromium through playwright-core.
 * Screenshots of each main page go to $YUN_ARTIFACTS/console (default
 * /tmp/yun-console-screens).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { YunApiError, YunClient } from '../../src/sdk/client.ts';
import { type ComputeCloud, buildImage, startComputeCloud } from '../compute/helpers.ts';
import { type TestBrowser, buildConsole, launchChromium, screenshotDir } from './browser.ts';

describe('web console', () => {
  let cc: ComputeCloud;
  let url: string;
  let shots: string;
  before(async () => {
    await buildConsole();
    cc = await startComputeCloud();
    url = cc.tc.cloud.apiUrl;
    shots = await screenshotDir();
  });
  after(async () => { await cc?.stop(); });

  const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  async function login(page: Page, user: string, password: string): Promise<void> {
    await page.goto(`${url}/`);
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  }

  test('served at / by the API server: SPA fallback, immutable assets, API 404s stay problem+json', async () => {
    const root = await fetch(`${url}/`);
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(root.headers.get('cache-control'), 'no-cache');
    assert.equal(root.headers.get('x-frame-options'), 'DENY');
    const html = await root.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html references a hashed script');
    const js = await fetch(`${url}${asset}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const deep = await fetch(`${url}/instances/web1`);
    assert.equal(deep.status, 200);
    assert.equal(await deep.text(), html);
    const api404 = await fetch(`${url}/v1/no-such-thing`);
    assert.equal(api404.status, 404);
    assert.match(api404.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal((await fetch(`${url}/assets/missing-123.js`)).status, 404);
    assert.equal((await fetch(`${url}/..%2f..%2fpackage.json`)).status, 404);
    const spec = await (await fetch(`${url}/v1/openapi.json`)).json() as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(spec.paths).some((p) => !p.startsWith('/v1')), 'console routes stay out of the OpenAPI document');
  });

  test('log in, dashboard, users and access keys, project switch, live updates, instance lifecycle', async (t) => {
    const b: TestBrowser | undefined = await launchChromium(t);
    if (!b) return;
    t.after(() => b.close());
    const admin = cc.c;
    await admin.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' }, public: true } } });
    await admin.resource('images').waitFor('busybox', (r) => ['available', 'error'].includes(String(r.status.state)), 120_000);
    await admin.projects.create('team2');

    const page = await (await b.context()).newPage();
    page.on('dialog', (d) => void d.accept());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // A wrong password is refused with a readable message.
    await page.goto(`${url}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await login(page, 'admin', cc.tc.adminPassword);
    await page.getByText('State store').waitFor();
    await page.locator('[data-resource="instances"]').waitFor();
    await shot(page, '01-dashboard');

    // Users: create one; it appears in the list and exists in the API.
    await nav(page, 'Identity').click();
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password', { exact: true }).fill('alice-password-1');
    await page.getByLabel('Role').selectOption('reader');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-row="alice"]').waitFor();
    assert.ok((await admin.users.list()).items.some((u) => u.name === 'alice'));
    await shot(page, '02-users');

    // Access keys: the secret is shown once, and it is the real one.
    await page.getByRole('tab', { name: 'Access keys' }).click();
    assert.equal(new URL(page.url()).pathname, '/identity/access-keys');
    await page.getByLabel('Description').fill('console test');
    await page.getByRole('button', { name: 'Create access key' }).click();
    const secret = (await page.getByTestId('secret-value').textContent())!;
    assert.equal(secret.length >= 30, true);
    const keys = (await admin.accessKeys.list()).items;
    assert.equal(keys.length, 1);
    await page.locator(`tr[data-row="${keys[0]!.accessKeyId}"]`).waitFor();
    await shot(page, '03-access-keys');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.reload();
    assert.equal(await page.getByTestId('secret-value').count(), 0, 'the secret is never shown again');
    assert.ok(!(await page.evaluate(() => JSON.stringify(localStorage))).includes(secret), 'the secret is not kept in localStorage');

    // Switch project: the dashboard now speaks for team2.
    await nav(page, 'Dashboard').click();
    await page.getByLabel('Project', { exact: true }).selectOption('team2');
    await page.getByTestId('current-project').filter({ hasText: 'team2' }).waitFor();

    // A resource created through the API shows up live (no reload) in the list and the event feed.
    await nav(page, 'Instances').click();
    await page.getByText('No instances in this project').waitFor();
    const team2 = admin.withProject('team2');
    await team2.request('POST', '/v1/instances', { body: { name: 'from-api', spec: { image: 'busybox', flavor: 'm1.tiny' } } });
    await page.locator('tr[data-row="from-api"]').waitFor({ timeout: 10_000 });
    await page.locator('tr[data-row="from-api"] [data-state="running"]').waitFor({ timeout: 60_000 });
    await shot(page, '04-instances');

    // Launch through the wizard, watch it go to running, read its console log.
    await page.getByRole('button', { name: 'Launch instance' }).click();
    await page.getByLabel('Instance name').fill('web1');
    await page.getByLabel('Image').fill('busybox');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /m1\.tiny/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('User data').fill('#!/bin/sh\necho hello-from-the-console\n');
    await page.getByRole('button', { name: 'Next' }).click();
    await shot(page, '05-launch-review');
    await page.getByRole('button', { name: 'Launch', exact: true }).click();
    await page.getByRole('heading', { name: 'web1' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/instances/web1');
    await page.locator('.page-head [data-state="running"]').waitFor({ timeout: 60_000 });
    await page.getByTestId('console-log').filter({ hasText: 'hello-from-the-console' }).waitFor({ timeout: 30_000 });
    await page.getByText(/memory MiB \(now \d/).waitFor({ timeout: 10_000 });
    await shot(page, '06-instance-detail');

    // Resize to a bigger flavor (a restart is allowed when the driver cannot resize live).
    await page.getByRole('button', { name: 'Resize' }).click();
    await page.getByLabel('New flavor').selectOption('m1.small');
    await page.getByRole('button', { name: 'Resize', exact: true }).last().click();
    await team2.resource('instances').waitFor('web1', (r) => r.spec.flavor === 'm1.small', 10_000);
    await page.locator('.page-head [data-state="running"]').waitFor({ timeout: 60_000 });
    await page.getByText('m1.small').first().waitFor();

    // Stop, start, delete from the detail page.
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('.page-head [data-state="stopped"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('.page-head [data-state="running"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    const gone = async () => { try { await team2.resource('instances').get('web1'); return false; } catch (e) { return e instanceof YunApiError && e.status === 404; } };
    for (let i = 0; i < 300 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await gone(), true);
    await page.locator('tr[data-row="web1"]').waitFor({ state: 'detached', timeout: 30_000 });

    // Dashboard event feed saw the changes live.
    await nav(page, 'Dashboard').click();
    await page.getByTestId('events').getByText('from-api').first().waitFor();
    await shot(page, '07-dashboard-team2');
    await page.getByLabel('Project', { exact: true }).selectOption('default');
    await page.getByTestId('current-project').filter({ hasText: 'default' }).waitFor();
    await nav(page, 'Images & flavors').click();
    await page.locator('tr[data-row="busybox"]').waitFor();
    await shot(page, '08-images');
    assert.deepEqual(errors, []);
    await team2.resource('instances').delete('from-api');
  });

  test('a reader sees no create buttons, and the API refuses when forced', async (t) => {
    const b = await launchChromium(t);
    if (!b) return;
    t.after(() => b.close());
    const admin = cc.c;
    await admin.users.create({ name: 'rita', password: 'rita-password-1', role: 'reader' });
    const page = await (await b.context()).newPage();
    await login(page, 'rita', 'rita-password-1');
    await nav(page, 'Instances').click();
    await page.getByRole('heading', { name: 'Instances' }).waitFor();
    await page.locator('table[aria-label="Instances"], .empty').first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Launch instance' }).count(), 0);
    await nav(page, 'Identity').click();
    await page.getByRole('heading', { name: /Users in/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create user' }).count(), 0);
    await shot(page, '09-reader');
    const token = await page.evaluate(() => (JSON.parse(localStorage.getItem('yun.session') ?? '{}') as { token: string }).token);
    const rita = new YunClient({ endpoint: url, token, project: 'default' });
    await assert.rejects(rita.request('POST', '/v1/instances', { body: { name: 'nope', spec: { image: 'busybox', flavor: 'm1.tiny' } } }), (e: YunApiError) => e.status === 403);
  });
});
