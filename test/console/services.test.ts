/**
 * Console pages of the services beyond compute, against a real cloud:
 * networking (host driver), volumes (block), cost (metering), each driven
 * through Debian's chromium.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { blockModule } from '../../src/block/module.ts';
import { computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { monthStart } from '../../src/metering/aggregate.ts';
import { meteringModule } from '../../src/metering/module.ts';
import { History } from '../../src/metering/testing.ts';
import { networkModule } from '../../src/network/module.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { type TestBrowser, buildConsole, launchChromium, screenshotDir } from './browser.ts';

const H = 3_600_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}
const iso = (ms: number) => new Date(ms).toISOString();

describe('web console: networking, volumes, cost', () => {
  let tc: TestCloud;
  let home: string;
  let netState: string;
  let shots: string;
  let b: TestBrowser | undefined;
  let page: Page;

  before(async () => {
    await buildConsole();
    home = await mkdtemp(join(tmpdir(), 'yun-console-svc-'));
    netState = await mkdtemp(join(tmpdir(), 'yun-console-net-'));
    const config = resolveConfig({ home }, {});
    const net = await networkModule(config, { driver: 'host', stateDir: netState, resyncMs: 500 });
    const cm = computeModule(config, { driver: 'process', networking: net.networking, stopTimeoutMs: 2000, pollMs: 100 });
    const mm = await meteringModule(config, { tickMs: 0 });
    tc = await startTestCloud({ home, keepHome: true, modules: [net, cm, blockModule(config), mm] });
    shots = await screenshotDir();
  });
  after(async () => {
    await b?.close();
    await tc?.stop();
    await rm(home, { recursive: true, force: true });
    await rm(netState, { recursive: true, force: true });
  });

  const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

  test('log in', async (t) => {
    b = await launchChromium(t);
    if (!b) return;
    page = await (await b.context()).newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${tc.cloud.apiUrl}/`);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill(tc.adminPassword);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    for (const n of ['Instances', 'Volumes', 'Networking', 'Cost']) await nav(n).waitFor();
    assert.equal(await nav('Apps').count(), 0, 'no Apps page when the apps service is not part of the cloud');
  });

  test('networks and security groups', async (t) => {
    if (!b) return t.skip('no browser');
    await nav('Networking').click();
    await page.getByLabel('Network name').fill('web-net');
    await page.getByLabel('CIDR').fill('10.77.0.0/24');
    await page.getByRole('button', { name: 'Create network' }).click();
    await page.locator('tr[data-row="web-net"] [data-state="active"]').waitFor({ timeout: 30_000 });
    const n = await tc.admin.resource('networks').get('web-net');
    assert.equal((n.spec as { cidr: string }).cidr, '10.77.0.0/24');
    // A field error from the API is shown with its field.
    await page.getByLabel('Network name').fill('bad-net');
    await page.getByLabel('CIDR').fill('10.77.0.1/99');
    await page.getByRole('button', { name: 'Create network' }).click();
    await page.getByRole('alert').filter({ hasText: 'cidr' }).waitFor();
    await page.screenshot({ path: join(shots, '10-networks.png'), fullPage: true });

    await page.getByRole('tab', { name: 'Security groups' }).click();
    await page.getByLabel('Security group name').fill('web');
    await page.getByRole('button', { name: 'Create security group' }).click();
    await page.locator('[data-group="web"]').waitFor();
    await page.locator('[data-group="web"]').getByLabel('New rule').fill('ingress tcp 80 0.0.0.0/0');
    await page.locator('[data-group="web"]').getByRole('button', { name: 'Add rule' }).click();
    await page.locator('[data-group="web"] code', { hasText: 'ingress tcp 80 0.0.0.0/0' }).waitFor();
    const sg = await tc.admin.resource('security-groups').get('web');
    assert.equal((sg.spec as { rules: unknown[] }).rules.length, 1);
    await page.screenshot({ path: join(shots, '11-security-groups.png'), fullPage: true });

    // A load balancer (no members yet) on a free port.
    const port = await freePort();
    await page.getByRole('tab', { name: 'Load balancers' }).click();
    await page.getByLabel('Name', { exact: true }).fill('front');
    await page.getByLabel('Network', { exact: true }).fill('web-net');
    await page.getByLabel('Listen port').fill(String(port));
    await page.getByRole('button', { name: 'Create load balancer' }).click();
    await page.locator('tr[data-row="front"] [data-state="active"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(shots, '12-load-balancer.png'), fullPage: true });
    const lb = await tc.admin.resource('load-balancers').get('front');
    assert.equal((lb.spec as { listeners: { port: number }[] }).listeners[0]!.port, port);
    await page.locator('tr[data-row="front"]').getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-row="front"]').waitFor({ state: 'detached', timeout: 30_000 });
  });

  test('volumes: create, extend, snapshot', async (t) => {
    if (!b) return t.skip('no browser');
    await nav('Volumes').click();
    await page.getByLabel('Volume name').fill('data1');
    await page.getByLabel('Size (GB)').fill('1');
    await page.getByRole('button', { name: 'Create volume' }).click();
    await page.locator('tr[data-row="data1"] [data-state="available"]').waitFor({ timeout: 30_000 });
    await page.locator('tr[data-row="data1"]').getByRole('button', { name: 'Extend' }).click();
    await page.getByLabel('New size (GB)').fill('2');
    await page.getByRole('button', { name: 'Extend', exact: true }).last().click();
    await page.locator('tr[data-row="data1"]').getByText('2 GB').waitFor({ timeout: 30_000 });
    assert.equal((await tc.admin.resource('volumes').get('data1')).spec.sizeGb, 2);
    await page.locator('tr[data-row="data1"]').getByRole('button', { name: 'Snapshot' }).click();
    await page.locator('table[aria-label="Snapshots"] tbody tr').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(shots, '13-volumes.png'), fullPage: true });
  });

  test('cost: invoice with a non-zero amount, explorer chart, estimate, budget', async (t) => {
    if (!b) return t.skip('no browser');
    // Last month: a 2 vCPU / 4 GiB container ran for 10 hours.
    const projectId = (await tc.cloud.ctx.identity.requireProject('default')).id;
    const prev = monthStart(monthStart(Date.now()) - 1);
    const h = new History(tc.cloud.ctx.store);
    const web = await h.instance(projectId, 'old-web', iso(prev + 48 * H), { vcpus: 2, ramMb: 4096, diskGb: 10 });
    await h.state(web, 'running', iso(prev + 48 * H));
    await h.remove(web, iso(prev + 58 * H));
    await tc.admin.request('POST', '/v1/metering/collect');
    const month = iso(prev).slice(0, 7);
    const invoice = await tc.admin.request<{ total: string }>('GET', `/v1/invoices/${month}`);
    assert.ok(Number(invoice.total) > 0);

    await nav('Cost').click();
    const total = page.getByTestId(`invoice-total-${month}`);
    await total.waitFor();
    assert.match((await total.textContent())!, new RegExp(`^${invoice.total.replace('.', '\\.')} `));
    await page.getByRole('button', { name: month }).click();
    await page.getByRole('heading', { name: new RegExp(`Invoice ${month}`) }).waitFor();
    await page.getByRole('table', { name: 'Invoice lines' }).getByText('instance old-web').first().waitFor();
    await page.screenshot({ path: join(shots, '14-invoice.png'), fullPage: true });

    await page.getByRole('tab', { name: 'Estimate' }).click();
    await page.getByLabel('Flavor').fill('m1.small');
    await page.getByLabel('Hours').fill('730');
    await page.getByRole('button', { name: 'Estimate', exact: true }).click();
    await page.getByTestId('estimate').getByText('Estimated total').waitFor();
    const est = await tc.admin.request<{ total: string }>('POST', '/v1/estimates', { body: { type: 'instance', flavor: 'm1.small', hours: 730, count: 1 } });
    await page.getByTestId('estimate').getByText(`${est.total} `).first().waitFor();

    await page.getByRole('tab', { name: 'Budgets' }).click();
    await page.getByLabel('Budget name').fill('monthly');
    await page.getByLabel('Monthly amount').fill('25');
    await page.getByRole('button', { name: 'Create budget' }).click();
    await page.locator('tr[data-row="monthly"]').waitFor();
    assert.equal((await tc.admin.resource('budgets').get('monthly')).spec.amount, '25');

    await page.getByRole('tab', { name: 'Cost by service' }).click();
    await page.getByText('This month so far').waitFor();
    await page.screenshot({ path: join(shots, '15-cost-explorer.png'), fullPage: true });
    await nav('Dashboard').click();
    await page.getByTestId('cost-mtd').waitFor();
    await page.screenshot({ path: join(shots, '16-dashboard-cost.png'), fullPage: true });
  });
});
