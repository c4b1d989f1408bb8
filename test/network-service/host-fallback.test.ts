/**
 * The network service on the host fallback driver (what a non-root machine
 * gets): status and describe() say plainly that isolation and security
 * groups are NOT enforced; published ports and load balancers still work
 * through userspace forwarders to the shared host network. Needs no root.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { NetworkApi } from '../../src/sdk/network.ts';
import { rmrf, startNetCloud, tmp } from './helpers.ts';

test('host fallback: honest status, published port and LB over the host network', { timeout: 60_000 }, async () => {
  const stateDir = await tmp('yun-netsvc-host-');
  const backend = createServer((_req, res) => res.end('from host workload\n'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const port = (backend.address() as AddressInfo).port;
  const cloud = await startNetCloud({ prefix: 'yhf', stateDir, opts: { driver: 'host', orphanPortGraceMs: Number.POSITIVE_INFINITY } });
  try {
    const d = cloud.net.describe!();
    assert.match(d['network driver']!, /NO isolation/);
    assert.equal(d['security groups'], 'NOT enforced');
    const api = new NetworkApi(cloud.admin);
    const doc = await cloud.admin.request<{ paths: Record<string, unknown> }>('GET', '/v1/openapi.json');
    const paths = Object.keys(doc.paths).join(' ');
    for (const want of ['networks', 'security-groups', 'floating-ips', 'load-balancers', 'rules']) assert.ok(paths.includes(want), `OpenAPI has ${want}`);
    const projectId = (await cloud.admin.projects.get((await cloud.admin.whoami()).project!)).id as string;
    const prep = await cloud.net.networking.prepare({ id: 'i-host-1', name: 'web', project: projectId, hostname: 'web' });
    assert.equal(prep.netnsPath, undefined, 'no namespace: the host network is shared');
    assert.deepEqual(prep.addresses, [{ network: 'default', ip: '127.0.0.1' }]);
    const net = await api.networks.waitFor('default', (n) => n.status.state === 'active', 10_000);
    assert.equal(net.status.driver, 'host');
    assert.equal(net.status.isolation, false);
    assert.equal(net.status.securityGroupsEnforced, false);

    await api.floatingIps.create('web', { instance: 'web', port, hostPort: 18631, hostIp: '127.0.0.1' });
    await api.floatingIps.waitFor('web', (f) => f.status.state === 'active', 10_000);
    assert.equal(await (await fetch('http://127.0.0.1:18631/')).text(), 'from host workload\n');

    await api.loadBalancers.create('lb', { listeners: [{ protocol: 'http', port: 18632, hostIp: '127.0.0.1' }], members: [{ instance: 'web', port }], healthCheck: { intervalMs: 200 } });
    await api.loadBalancers.waitFor('lb', (l) => l.status.members?.[0]?.healthy === true, 10_000);
    assert.equal(await (await fetch('http://127.0.0.1:18632/')).text(), 'from host workload\n');

    // L7 path rule to a second instance; X-Forwarded-For added
    const apiSrv = createServer((req, res) => res.end(`api ${req.url} xff=${req.headers['x-forwarded-for']}\n`));
    await new Promise<void>((r) => apiSrv.listen(0, '127.0.0.1', r));
    const apiPort = (apiSrv.address() as AddressInfo).port;
    await cloud.net.networking.prepare({ id: 'i-host-2', name: 'api', project: projectId, hostname: 'api' });
    await api.loadBalancers.update('lb', { spec: { listeners: [{ protocol: 'http', port: 18632, hostIp: '127.0.0.1' }], members: [{ instance: 'web', port }, { instance: 'api', port: apiPort }],
      rules: [{ pathPrefix: '/api', members: ['api'] }], healthCheck: { intervalMs: 200 } } });
    await api.loadBalancers.waitFor('lb', (l) => l.status.members?.filter((m) => m.healthy).length === 2, 10_000);
    for (let i = 0; i < 4; i++) assert.equal(await (await fetch('http://127.0.0.1:18632/api/v1')).text(), 'api /api/v1 xff=127.0.0.1\n');
    const e = await api.loadBalancers.update('lb', { spec: { listeners: [{ protocol: 'http', port: 18632 }], rules: [{ pathPrefix: '/x', members: ['nobody'] }] } }).catch((x) => x);
    assert.equal(e.status, 400);
    assert.equal(e.field, '/spec/rules/0/members');
    await cloud.net.networking.release({ id: 'i-host-2', name: 'api', project: projectId, hostname: 'api' });
    await new Promise((r) => apiSrv.close(r));

    await api.loadBalancers.delete('lb');
    await api.floatingIps.delete('web');
    await cloud.net.networking.release({ id: 'i-host-1', name: 'web', project: projectId, hostname: 'web' });
    assert.equal((await api.networks.ports('default')).items.length, 0);
  } finally {
    await cloud.stop();
    await new Promise((r) => backend.close(r));
    await rmrf(cloud.home);
    await rmrf(stateDir);
  }
});
