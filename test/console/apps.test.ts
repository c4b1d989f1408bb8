/**
 * The apps pages against a real cloud with compute and apps: deploy from an
 * image, drag the replica slider (keyboard), see the replica instances and
 * the revision, then delete. Replicas here bind no port (no per-replica
 * network without the network service), so readiness is not asserted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AppsModule, appsModule } from '../../src/apps/module.ts';
import { type ComputeModule, computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { buildConsole, launchChromium, screenshotDir } from './browser.ts';

describe('web console: apps', () => {
  let tc: TestCloud;
  let home: string;
  let compute: ComputeModule;
  let apps: AppsModule;
  before(async () => {
    await buildConsole();
    home = await mkdtemp(join(tmpdir(), 'yun-console-apps-'));
    const config = resolveConfig({ home }, {});
    compute = computeModule(config, { stopTimeoutMs: 2000, pollMs: 200 });
    apps = appsModule(config, { compute, routerPort: 0, resyncMs: 1000 });
    tc = await startTestCloud({ home, keepHome: true, modules: [compute, apps] });
  });
  after(async () => {
    await apps?.controller?.stop();
    await compute?.controller?.stop();
    for (const w of await compute.driver.list()) await compute.driver.delete(w.id);
    await tc?.stop();
    await rm(home, { recursive: true, force: true });
  });

  test('deploy from an image, scale with the slider, delete', async (t) => {
    const b = await launchChromium(t);
    if (!b) return;
    t.after(() => b.close());
    const c = tc.admin;
    await c.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' } } } });
    await c.resource('images').waitFor('busybox', (r) => ['available', 'error'].includes(String(r.status.state)), 120_000);
    const page = await (await b.context()).newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${tc.cloud.apiUrl}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(tc.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();

    await page.getByRole('button', { name: 'Deploy app' }).click();
    await page.getByLabel('App name').fill('hello');
    await page.getByLabel('Image', { exact: true }).fill('busybox');
    await page.getByLabel('Command (optional)').fill('sleep 100000');
    await page.getByLabel('Port').fill('8080');
    await page.getByLabel('Replicas', { exact: true }).fill('1');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.getByRole('heading', { name: 'hello' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/apps/hello');
    await page.locator('table[aria-label="Replicas"] tbody tr').first().waitFor({ timeout: 60_000 });

    // The slider, by keyboard: one step right, released → scale to 2.
    const slider = page.getByRole('slider', { name: /Replicas/ });
    await slider.focus();
    await slider.press('ArrowRight');
    await c.resource('apps').waitFor('hello', (r) => (r.spec as { replicas: number }).replicas === 2, 10_000);
    await page.locator('table[aria-label="Replicas"] tbody tr').nth(1).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('table[aria-label="Replicas"] tbody tr').count(), 2);
    await page.locator('table[aria-label="Revisions"] tbody tr').first().waitFor();

    // Autoscaling policy: set it, see it summarised, find it in the API.
    await page.getByLabel('Min replicas').fill('1');
    await page.getByLabel('Max replicas').fill('4');
    await page.getByLabel('Metric').selectOption('requests-per-second');
    await page.getByLabel('Target', { exact: true }).fill('50');
    await page.getByRole('button', { name: 'Set policy' }).click();
    await page.getByTestId('hpa-summary').filter({ hasText: 'Between 1 and 4 replicas' }).waitFor();
    const hpa = await c.resource('app-autoscalers').get('hello');
    assert.deepEqual((hpa.spec as { metrics: unknown }).metrics, [{ type: 'requests-per-second', target: 50 }]);
    await page.screenshot({ path: join(await screenshotDir(), '17-app.png'), fullPage: true });

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Apps' }).waitFor();
    await page.locator('tr[data-row="hello"]').waitFor({ state: 'detached', timeout: 60_000 });
  });
});
