/**
 * The network module reports bytes out of published ports to metering: each
 * metering pass asks a driver with the DataOutCounter ability (here the
 * fake, counting what the test says), and each published port's bytes
 * become usage records under its floating IP and project.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConfig } from '../core/config.ts';
import { meteringModule } from '../metering/module.ts';
import { NetworkApi } from '../sdk/network.ts';
import { startTestCloud } from '../../test/helpers/cloud.ts';
import { FakeNetworkDriver } from './drivers/fake/driver.ts';
import type { DataOutCounter } from './drivers/types.ts';
import { networkModule } from './module.ts';

class CountingFake extends FakeNetworkDriver implements DataOutCounter {
  pending: Record<string, number> = {};
  async takeDataOut(): Promise<Record<string, number>> {
    const out = this.pending;
    this.pending = {};
    return out;
  }
}

test('bytes out of published ports become usage records under the floating IP and its project', { timeout: 60_000 }, async () => {
  const driver = new CountingFake();
  const config = resolveConfig({ home: await mkdtemp(join(tmpdir(), 'yun-dataout-')) }, {});
  const metering = await meteringModule(config, { tickMs: 0 });
  const net = await networkModule(config, { openDriver: async () => driver, metering, resyncMs: 200 });
  const tc = await startTestCloud({ home: config.home, modules: [net, metering] });
  try {
    const api = new NetworkApi(tc.admin);
    const project = (await tc.admin.projects.get('default')).id as string;
    await net.networking.prepare({ id: 'i-do-1', name: 'web', project, hostname: 'web' });
    const fip = await api.floatingIps.create('web-http', { instance: 'web', port: 80, hostPort: 18651 });
    driver.pending[fip.id] = 1234;
    driver.pending['fip-gone'] = 99; // a port deleted meanwhile: nobody to bill, dropped
    await metering.tick();
    const rows = await tc.cloud.ctx.store.all<{ project: string; sku: string; resource_id: string; resource_kind: string; resource_name: string; quantity: string }>(
      "SELECT project, sku, resource_id, resource_kind, resource_name, CAST(quantity AS TEXT) AS quantity FROM metering_records WHERE sku = 'network.data_out'");
    assert.deepEqual(rows.map((u) => [u.project, u.sku, { id: u.resource_id, kind: u.resource_kind, name: u.resource_name }, BigInt(u.quantity)]),
      [[project, 'network.data_out', { id: fip.id, kind: 'floating-ip', name: 'web-http' }, 1234n]]);
  } finally {
    await tc.stop();
  }
});
