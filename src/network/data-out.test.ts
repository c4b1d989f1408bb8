/**
 * The network module reports bytes out of published ports to metering: a
 * driver with the DataOutCounter ability (here the fake, counting what the
 * test says) is read periodically and at stop, and each published port's
 * bytes land in the sink under its floating IP and project.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../core/config.ts';
import { BufferedUsageSink } from '../metering/sink.ts';
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

test('bytes out of published ports reach the metering sink under the floating IP and its project', { timeout: 60_000 }, async () => {
  const driver = new CountingFake();
  const sink = new BufferedUsageSink();
  const home = (await import('node:fs/promises')).mkdtemp(`${(await import('node:os')).tmpdir()}/yun-dataout-`);
  const net = await networkModule(resolveConfig({ home: await home }, {}), { openDriver: async () => driver, metering: { sink }, dataOutMs: 50, resyncMs: 200 });
  const tc = await startTestCloud({ home: await home, modules: [net] });
  try {
    const api = new NetworkApi(tc.admin);
    const project = (await tc.admin.projects.get('default')).id as string;
    await net.networking.prepare({ id: 'i-do-1', name: 'web', project, hostname: 'web' });
    const fip = await api.floatingIps.create('web-http', { instance: 'web', port: 80, hostPort: 18651 });
    driver.pending[fip.id] = 1234;
    driver.pending['fip-gone'] = 99; // a port deleted meanwhile: nobody to bill, dropped
    const end = Date.now() + 5000;
    let got: ReturnType<BufferedUsageSink['drain']> = [];
    while (got.length === 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      got = sink.drain();
    }
    assert.deepEqual(got.map((u) => [u.project, u.sku, u.resource, u.quantity]), [[project, 'network.data_out', { id: fip.id, kind: 'floating-ip', name: 'web-http' }, 1234n]]);
    driver.pending[fip.id] = 10;
    await tc.stop();
    assert.deepEqual(sink.drain().map((u) => u.quantity), [10n], 'flushed at stop');
  } finally {
    await tc.stop().catch(() => undefined);
  }
});
