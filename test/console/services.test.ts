/**
 * Console pages of the services beyond compute, against a real cloud:
 * networking (host driver), volumes (block), instances of type vm with
 * networks and a live resize, monitoring (alarms, autoscalers), cost
 * (metering), each driven through Debian's chromium. Compute runs the fake
 * driver with a VM's resize rules (VmLikeFake): the console's requests and
 * the resources they make are real, no VM boots.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { autoscaleModule } from '../../src/autoscale/module.ts';
import { blockModule } from '../../src/block/module.ts';
import { FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { VmLikeFake } from '../../src/compute/drivers/fake/vm-like.ts';
import { type ComputeModule, computeModule } from '../../src/compute/module.ts';
import { monitorModule } from '../../src/monitor/module.ts';
import { compute } from '../../src/sdk/compute.ts';
import { buildImage } from '../compute/helpers.ts';
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
  let cm: ComputeModule;
  const fake = new FakeHost();

  before(async () => {
    await buildConsole();
    home = await mkdtemp(join(tmpdir(), 'yun-console-svc-'));
    netState = await mkdtemp(join(tmpdir(), 'yun-console-net-'));
    const config = resolveConfig({ home }, {});
    const net = await networkModule(config, { driver: 'host', stateDir: netState, resyncMs: 500 });
    cm = computeModule(config, { driver: new VmLikeFake({ host: fake }), networking: net.networking, stopTimeoutMs: 2000, pollMs: 100 });
    const mm = await meteringModule(config, { tickMs: 0 });
    const mon = monitorModule(config, { stats: () => cm.driver, intervalMs: 500 });
    const scale = autoscaleModule(config, { db: mon.db, images: () => cm.images, evalMs: 300 });
    tc = await startTestCloud({ home, keepHome: true, modules: [net, cm, blockModule(config), mm, mon, scale] });
    shots = await screenshotDir();
    // A VM image (an imported 16 MiB qcow2 disk) and a container image.
    const disk = join(home, 'tiny.qcow2');
    await promisify(execFile)('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    await compute(tc.admin).importImage('tinydisk', await readFile(disk), { format: 'disk' });
    await buildImage(tc.admin, 'busybox', 'busybox');
  });
  after(async () => {
    await b?.close();
    await cm?.controller?.stop();
    await tc?.stop();
    fake.shutdown();
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
    // …and the field it names is marked invalid, described by the message.
    const cidr = page.getByLabel('CIDR');
    assert.equal(await cidr.getAttribute('aria-invalid'), 'true');
    const described = (await cidr.getAttribute('aria-describedby'))!.split(' ')[0]!;
    const message = (await page.locator(`[id="${described}"]`).textContent())!;
    assert.ok(message.length > 0 && (await page.getByRole('alert').filter({ hasText: 'cidr' }).textContent())!.includes(message));
    assert.equal(await page.getByLabel('Network name').getAttribute('aria-invalid'), null);
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

  test('volumes: from an image, from a snapshot', async (t) => {
    if (!b) return t.skip('no browser');
    await nav('Volumes').click();
    await page.getByLabel('Volume name').fill('boot1');
    await page.getByLabel('Source').selectOption('image');
    await page.getByLabel('From image').selectOption('tinydisk');
    await page.getByRole('button', { name: 'Create volume' }).click();
    await page.locator('tr[data-row="boot1"] [data-state="available"]').waitFor({ timeout: 60_000 });
    await page.locator('tr[data-row="boot1"]').getByText('image tinydisk').waitFor();
    const boot1 = await tc.admin.resource('volumes').get('boot1');
    assert.equal((boot1.spec as { fromImage?: string }).fromImage, 'tinydisk');

    const snap = (await tc.admin.resource('volume-snapshots').list()).items[0]!;
    await tc.admin.resource('volume-snapshots').waitFor(snap.name, (r) => r.status.state === 'available', 30_000);
    await page.getByLabel('Volume name').fill('copy1');
    await page.getByLabel('Size (GB)').fill('2');
    await page.getByLabel('Source').selectOption('snapshot');
    await page.getByLabel('From snapshot').selectOption(snap.name);
    await page.getByRole('button', { name: 'Create volume' }).click();
    await page.locator('tr[data-row="copy1"] [data-state="available"]').waitFor({ timeout: 60_000 });
    assert.equal(((await tc.admin.resource('volumes').get('copy1')).spec as { fromSnapshot?: string }).fromSnapshot, snap.name);
    await page.screenshot({ path: join(shots, '17-volumes-sources.png'), fullPage: true });
  });

  test('instances: a VM with a static address and a security group, then resized live and with a restart', async (t) => {
    if (!b) return t.skip('no browser');
    await nav('Instances').click();
    await page.getByRole('button', { name: 'Launch instance' }).click();
    await page.getByLabel('Instance name').fill('vm1');
    // The image field starts at the first image of the chosen type, once the images are loaded.
    const image = async () => {
      for (let i = 0; i < 100; i++) { const v = await page.getByLabel('Image').inputValue(); if (v) return v; await page.waitForTimeout(100); }
      return '';
    };
    assert.equal(await image(), 'busybox', 'a container lists container images');
    await page.getByRole('radio', { name: /Virtual machine/ }).check();
    assert.equal(await image(), 'tinydisk', 'a VM lists VM images only');
    assert.deepEqual(await page.locator('datalist option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['tinydisk']);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: /m1\.tiny/ }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('checkbox', { name: /web-net/ }).check();
    await page.getByLabel('Static IP on web-net').fill('10.99.0.5');
    await page.getByRole('checkbox', { name: 'web', exact: true }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Launch', exact: true }).click();
    // Refused (the address is outside 10.77.0.0/24): back on the network step, the address marked invalid.
    const ip = page.getByLabel('Static IP on web-net');
    await ip.and(page.locator('[aria-invalid="true"]')).waitFor();
    assert.match((await page.locator(`[id="${await ip.getAttribute('aria-describedby')}"]`).textContent())!, /10\.99\.0\.5/);
    await ip.fill('10.77.0.50');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Command (optional)').fill('sleep 3600');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Launch', exact: true }).click();
    await page.getByRole('heading', { name: 'vm1' }).waitFor();
    const vm = await tc.admin.resource('instances').get('vm1');
    assert.deepEqual([vm.spec.type, vm.spec.networks, vm.spec.securityGroups], ['vm', ['web-net:10.77.0.50'], ['web']]);
    await page.locator('.page-head [data-state="running"]').waitFor({ timeout: 30_000 });
    // status.addresses as the network driver reports them (the host driver shares the host's address).
    const addresses = (await tc.admin.resource('instances').get('vm1')).status.addresses as { network: string; ip: string }[];
    assert.equal(addresses[0]?.network, 'web-net');
    await page.getByText(`${addresses[0]!.ip} (web-net)`).waitFor();
    await page.getByText('memory 64–512 MiB, 1 vCPU').waitFor({ timeout: 10_000 });

    // Memory within the boot size: applied live, no restart offered.
    await page.getByRole('button', { name: 'Resize' }).click();
    await page.getByRole('radio', { name: 'Custom size' }).check();
    await page.getByLabel('Memory (MiB)').fill('256');
    await page.getByTestId('live-range').getByText('applies live').waitFor();
    assert.equal(await page.getByRole('checkbox', { name: /Allow a restart/ }).count(), 0);
    await page.getByRole('button', { name: 'Resize', exact: true }).last().click();
    await tc.admin.resource('instances').waitFor('vm1', (r) => (r.status as { limits?: { memoryMb?: number } }).limits?.memoryMb === 256, 30_000);
    assert.ok(!fake.calls.some((c) => c.startsWith('stop ')), 'no restart');

    // Two vCPUs cannot be added live: without "allow restart" the API's 409 reason is shown; with it, it is done.
    await page.getByRole('button', { name: 'Resize' }).click();
    await page.getByRole('radio', { name: 'Custom size' }).check();
    await page.getByLabel('vCPUs').fill('2');
    await page.getByTestId('live-range').getByText('needs a restart').waitFor();
    await page.getByRole('button', { name: 'Resize', exact: true }).last().click();
    await page.getByRole('dialog').getByRole('alert').filter({ hasText: 'vCPU count changes' }).waitFor();
    await page.screenshot({ path: join(shots, '18-vm-resize-refused.png'), fullPage: true });
    await page.getByRole('checkbox', { name: /Allow a restart/ }).check();
    await page.getByRole('button', { name: 'Resize', exact: true }).last().click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    const resized = await tc.admin.resource('instances').waitFor('vm1', (r) => r.status.state === 'running' && (r.status as { limits?: { cpus?: number } }).limits?.cpus === 2, 30_000);
    assert.equal((resized.spec as { allowRestart?: boolean }).allowRestart, true);
    await page.getByText('memory 64–256 MiB, 2 vCPU').waitFor({ timeout: 30_000 });

    // Its security groups change live: out of web, into ops, no restart.
    await tc.admin.resource('security-groups').create('ops', { rules: ['ingress tcp 22 0.0.0.0/0'] });
    const stops = () => fake.calls.filter((c) => c.startsWith('stop ')).length;
    const stopsBefore = stops();
    await page.getByRole('button', { name: 'Change groups' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('checkbox', { name: 'ops', exact: true }).check();
    await dialog.getByRole('checkbox', { name: 'web', exact: true }).uncheck();
    await dialog.getByRole('button', { name: 'Save groups' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByTestId('instance-groups').filter({ hasText: /^ops$/ }).waitFor();
    assert.deepEqual((await tc.admin.resource('instances').get('vm1')).spec.securityGroups, ['ops']);
    assert.equal(stops(), stopsBefore, 'no restart');
    await page.screenshot({ path: join(shots, '19-vm-detail.png'), fullPage: true });
  });

  test('monitoring: an alarm fires and shows its history; an autoscaler scales and shows its events', async (t) => {
    if (!b) return t.skip('no browser');
    await nav('Monitoring').click();
    await page.getByLabel('Alarm name').fill('deep-queue');
    await page.getByLabel('Metric query').fill('avg(((');
    await page.getByLabel('Threshold').fill('5');
    await page.getByRole('button', { name: 'Create alarm' }).click();
    await page.getByLabel('Metric query').and(page.locator('[aria-invalid="true"]')).waitFor();
    await page.getByLabel('Metric query').fill('queue_depth');
    await page.getByRole('button', { name: 'Create alarm' }).click();
    await page.locator('tr[data-row="deep-queue"] [data-state="INSUFFICIENT_DATA"]').waitFor();
    assert.equal(await page.getByLabel('Metric query').getAttribute('aria-invalid'), null, 'the mark goes once the form is accepted');

    // A group of one, scaled on the same custom metric.
    await tc.admin.resource('instance-groups').create('workers', { image: 'busybox', flavor: 'm1.tiny', size: 1 });
    await tc.admin.resource('autoscalers').create('workers', { target: 'group/workers', minReplicas: 1, maxReplicas: 3, metrics: [{ type: 'custom', target: 10, query: 'queue_depth' }], behavior: { scaleUpStabilizationSeconds: 0 } });
    await tc.admin.request('POST', '/v1/metrics/push', { body: { samples: [{ metric: 'queue_depth', value: 30 }] } });

    await page.locator('tr[data-row="deep-queue"] [data-state="ALARM"]').waitFor({ timeout: 30_000 });
    await page.locator('tr[data-row="deep-queue"]').getByRole('link', { name: 'deep-queue' }).click();
    assert.equal(new URL(page.url()).pathname, '/monitoring/alarms/deep-queue');
    await page.getByRole('table', { name: 'Alarm history' }).locator('[data-change="INSUFFICIENT_DATA>ALARM"]').waitFor();
    await page.screenshot({ path: join(shots, '20-alarm-history.png'), fullPage: true });

    await tc.admin.resource('autoscalers').waitFor('workers', (r) => ((r.status as { events?: unknown[] }).events ?? []).length > 0, 30_000);
    await page.getByRole('tab', { name: 'Autoscalers' }).click();
    await page.locator('tr[data-row="autoscaler:workers"]').getByRole('link', { name: 'workers' }).click();
    const history = page.getByRole('table', { name: 'Scaling history' });
    await history.getByText('1 → 3').waitFor();
    await history.getByText('custom 30 / 10').waitFor();
    await page.screenshot({ path: join(shots, '21-autoscaler-history.png'), fullPage: true });
    await tc.admin.resource('autoscalers').delete('workers');
    await tc.admin.resource('instance-groups').delete('workers');
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
