import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { HostNetworkDriver } from './driver.ts';

test('host driver says plainly what it does not enforce', () => {
  const d = new HostNetworkDriver();
  assert.equal(d.capabilities.isolation, false);
  assert.equal(d.capabilities.securityGroupsEnforced, false);
  assert.equal(d.capabilities.dns, false);
  assert.ok(d.capabilities.notes.some((n) => /not enforced/.test(n)));
});

test('host driver: ports from a range, published port forwards, conflicts refused, reconcile', async () => {
  const backend = createServer((_req, res) => res.end('hi'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const target = (backend.address() as AddressInfo).port;
  const d = new HostNetworkDriver({ portRange: [28000, 28099] });
  try {
    await d.ensureNetwork({ id: 'n1', cidr: '10.1.0.0/24', gateway: '10.1.0.1', nat: false });
    const r = await d.attach({ networkId: 'n1', portId: 'p1', instanceId: 'i1', ip: '10.1.0.5' });
    assert.equal(r.netnsPath, null);
    const hp = await d.allocateHostPort('p1');
    assert.ok(hp >= 28000 && hp <= 28099);
    assert.equal(await d.allocateHostPort('p1'), hp, 'stable');
    await d.attach({ networkId: 'n1', portId: 'p2', instanceId: 'i2', ip: '10.1.0.6' });
    assert.notEqual(await d.allocateHostPort('p2'), hp);

    const pub = { id: 'pub1', hostIp: '127.0.0.1', hostPort: 28150, protocol: 'tcp' as const, targetIp: '127.0.0.1', targetPort: target };
    await d.publishPort(pub);
    await d.publishPort(pub);
    assert.equal(await (await fetch('http://127.0.0.1:28150/')).text(), 'hi');
    await assert.rejects(d.publishPort({ ...pub, id: 'pub2', hostIp: '0.0.0.0' }), (e: { code?: string }) => e.code === 'Conflict');
    await assert.rejects(d.publishPort({ ...pub, id: 'pub3', protocol: 'udp' }), (e: { code?: string }) => e.code === 'CapabilityMissing');
    await assert.rejects(d.deleteNetwork('n1'), (e: { code?: string }) => e.code === 'InvalidState');

    await d.reconcile({ networks: [{ id: 'n1', cidr: '10.1.0.0/24', gateway: '10.1.0.1', nat: false }], ports: [], publishedPorts: [] });
    assert.deepEqual(await d.listOwned(), { networks: ['n1'], ports: [], publishedPorts: [], instances: [] });
    await assert.rejects(fetch('http://127.0.0.1:28150/'));
  } finally {
    await d.close();
    await new Promise((r) => backend.close(r));
  }
});
