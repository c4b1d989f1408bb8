import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeDriver, FakeHost } from '../../src/compute/drivers/fake/driver.ts';
import { computeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { YunApiError } from '../../src/sdk/client.ts';
import { rmrf, startNetCloud, tmp } from './helpers.ts';

/** Instance networks are checked in the create transaction: a bad one is refused before anything exists. */
test('an instance naming a missing network or an out-of-subnet address is refused at create', { timeout: 60_000 }, async () => {
  const stateDir = await tmp('yun-netsvc-val-');
  const home = await tmp('yun-netsvc-val-home-');
  const host = new FakeHost();
  const cloud = await startNetCloud({
    prefix: 'yva', stateDir, home, opts: { driver: 'host' },
    extra: async (net) => [computeModule(resolveConfig({ home }, {}), { networking: net.networking, driver: new FakeDriver({ host }), controller: false })],
  });
  try {
    const c = cloud.admin;
    await c.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' } } } }).catch(() => undefined);
    await c.request('POST', '/v1/networks', { body: { name: 'backend', spec: { cidr: '10.219.0.0/24' } } });
    const create = (name: string, networks: string[]) => c.request('POST', '/v1/instances', { body: { name, spec: { image: 'busybox', flavor: 'm1.tiny', command: ['sleep', '1'], networks } } });
    await assert.rejects(create('a1', ['nope']), (e: YunApiError) => e.status === 404 && /nope/.test(e.message));
    await assert.rejects(create('a2', ['backend:10.9.9.9']), (e: YunApiError) => e.status === 400);
    await assert.rejects(c.request('GET', '/v1/instances/a1'), (e: YunApiError) => e.status === 404);
  } finally {
    await cloud.stop();
    host.shutdown();
    await rmrf(stateDir);
    await rmrf(home);
  }
});
