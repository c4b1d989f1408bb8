/**
 * End to end with real crun instances: the compute module wired to the
 * network service exactly as `defaultModules` does, driven through the
 * public API. Kernel objects carry the prefix `yse`.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { computeModule, type ComputeModule } from '../../src/compute/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { metadataTarget } from '../../src/network/module.ts';
import type { YunApiError, YunClient } from '../../src/sdk/client.ts';
import { ComputeClient } from '../../src/sdk/compute.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { requireCapability } from '../helpers/capability.ts';
import { buildImage, waitState } from '../compute/helpers.ts';
import { census, needLinux, ownRuleset, scrub, startNetCloud, teardown, tmp, waitFor, type NetCloud } from './helpers.ts';

const PREFIX = 'yse';

const serve = (name: string) => ['/bin/sh', '-c',
  `mkdir -p /www && echo ${name} > /www/index.html && echo ok > /www/healthz && httpd -p 8080 -h /www && exec httpd -f -p 80 -h /www`];

async function exec(c: YunClient, name: string, command: string[], stdin?: string): Promise<{ stdout: string; exitCode: number }> {
  return c.request('POST', `/v1/instances/${name}/exec`, { body: { command, timeoutMs: 8000, ...(stdin !== undefined ? { stdin } : {}) } });
}
/**
 * HTTP GET from inside an instance with busybox nc (the image's static
 * busybox wget crashes without NSS libraries, so no wget). Body or undefined.
 */
async function get(c: YunClient, from: string, host: string, port: number, path = '/'): Promise<string | undefined> {
  const r = await exec(c, from, ['nc', '-w', '2', host, String(port)], `GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  const i = r.stdout.indexOf('\r\n\r\n');
  if (r.exitCode !== 0 || !r.stdout.startsWith('HTTP/1.') || i < 0) return undefined;
  return r.stdout.slice(i + 4).trim();
}
/** Resolves a name with the instance's resolv.conf (busybox nslookup has its own resolver). */
async function lookup(c: YunClient, from: string, name: string): Promise<string | undefined> {
  const r = await exec(c, from, ['nslookup', name]);
  const m = /Name:\s*\S+\s*\nAddress(?: \d+)?:\s*([0-9.]+)/.exec(r.stdout);
  return r.exitCode === 0 ? m?.[1] : undefined;
}

test('instances on yun networks: reachability, DNS, isolation, SG, FIP, metadata, LB, restart', { timeout: 600_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  const crun = existsSync('/usr/bin/crun') || existsSync('/usr/bin/runc');
  if (!requireCapability(t, crun, 'crun or runc is not installed (apt-get install crun)')) return;
  await scrub(PREFIX);
  const before = await census(PREFIX);
  const stateDir = await tmp('yun-netsvc-e2e-state-');
  const home = await tmp('yun-netsvc-e2e-');
  let compute: ComputeModule | undefined;
  const start = async () => {
    const config = resolveConfig({ home }, {});
    const md = await metadataTarget(config);
    const cloud = await startNetCloud({
      prefix: PREFIX, stateDir, home, opts: { metadata: () => md },
      extra: async (net) => [compute = computeModule(config, { networking: net.networking, metadataPort: md.port, stopTimeoutMs: 2000, pollMs: 200 })],
    });
    return cloud;
  };
  let cloud: NetCloud = await start();
  const c = () => cloud.admin;
  try {
    const api = () => new NetworkApi(c());
    await buildImage(c(), 'busybox', 'busybox');
    await api().networks.create('backend', { cidr: '10.218.0.0/24' });
    await api().networks.create('other', { cidr: '10.218.5.0/24' });
    await api().securityGroups.create('web', { rules: ['ingress tcp 80 0.0.0.0/0'] });
    const mk = (name: string, networks: string[], securityGroups?: string[]) => c().request('POST', '/v1/instances', {
      body: { name, spec: { image: 'busybox', cpus: 0.2, memoryMb: 64, command: serve(name), networks, ...(securityGroups ? { securityGroups } : {}) } },
    });
    await mk('app1', ['backend'], ['web']);
    await mk('app2', ['backend']);
    await mk('app3', ['other']);
    await mk('app4', ['backend']);
    const addr: Record<string, string> = {};
    for (const n of ['app1', 'app2', 'app3', 'app4']) {
      const r = await waitState(c(), n, ['running', 'error'], 120_000);
      assert.equal(r.status.state, 'running', `${n}: ${JSON.stringify(r.status)}`);
      addr[n] = (r.status.addresses as { ip: string }[])[0]!.ip;
    }

    // same network: by IP and by name; another network: nothing
    assert.ok(await waitFor(async () => (await get(c(), 'app2', addr.app1!, 80)) === 'app1', 10_000));
    const resolved = await lookup(c(), 'app2', 'app1.backend.internal');
    assert.equal(resolved, addr.app1, 'DNS name inside the network');
    assert.equal(await get(c(), 'app2', resolved!, 80), 'app1');
    assert.equal(await lookup(c(), 'app2', 'app3.other.internal'), undefined, 'names of other networks are not served here');
    assert.equal(await get(c(), 'app3', addr.app1!, 80), undefined, 'other network is isolated');

    // security group: 8080 blocked, then allowed after a rule add, without restarting anything
    assert.equal(await get(c(), 'app2', addr.app1!, 8080), undefined);
    const t0 = Date.now();
    await api().securityGroups.addRule('web', 'ingress tcp 8080 10.218.0.0/24');
    assert.ok(await waitFor(async () => (await get(c(), 'app2', addr.app1!, 8080)) === 'app1', 5000));
    t.diagnostic(`security group change reached the instance in ${Date.now() - t0} ms (including exec round trips)`);

    // moving a running instance to other groups applies live (no restart); a missing group or a network change is refused
    await api().securityGroups.create('only80', { rules: ['ingress tcp 80 0.0.0.0/0'] });
    const app1 = new ComputeClient(c()).instance('app1');
    const startedAt = (await app1.get()).status.startedAt;
    await assert.rejects(app1.setSecurityGroups(['nope']), (e: YunApiError) => e.status === 404 && e.field === '/spec/securityGroups/0');
    const cur = await app1.get();
    await assert.rejects(c().request('PUT', '/v1/instances/app1', { body: { spec: { ...cur.spec, networks: ['other'] } } }),
      (e: YunApiError) => e.status === 409 && e.field === '/spec/networks');
    await app1.setSecurityGroups(['only80']);
    assert.ok(await waitFor(async () => (await get(c(), 'app2', addr.app1!, 8080)) === undefined, 5000), '8080 closed by the move');
    assert.equal(await get(c(), 'app2', addr.app1!, 80), 'app1', 'what only80 allows stays open');
    const t2 = Date.now();
    await app1.setSecurityGroups(['web']);
    assert.ok(await waitFor(async () => (await get(c(), 'app2', addr.app1!, 8080)) === 'app1', 5000), '8080 open again');
    t.diagnostic(`moving an instance back to a group reached it in ${Date.now() - t2} ms (including exec round trips)`);
    assert.equal((await app1.get()).status.startedAt, startedAt, 'never restarted');
    await api().securityGroups.delete('only80');

    // metadata: each instance sees its own data
    for (const n of ['app1', 'app2']) {
      const r = await c().resource('instances').get(n);
      assert.equal(await get(c(), n, '169.254.169.254', 80, '/latest/meta-data/instance-id'), r.id, `${n} metadata`);
      assert.equal(await get(c(), n, '169.254.169.254', 80, '/latest/meta-data/local-ipv4'), addr[n]);
    }

    // published port from the host's loopback
    await api().floatingIps.create('app1-http', { instance: 'app1', port: 80, hostPort: 18621 });
    assert.ok(await waitFor(async () => (await fetch('http://127.0.0.1:18621/').then((r) => r.text()).catch(() => '')).trim() === 'app1', 10_000));

    // load balancer over three members; a failing health check drops one
    await api().loadBalancers.create('web-lb', {
      network: 'backend', listeners: [{ protocol: 'http', port: 18622, hostIp: '127.0.0.1' }],
      members: [{ instance: 'app1', port: 80 }, { instance: 'app2', port: 80 }, { instance: 'app4', port: 80 }],
      healthCheck: { path: '/healthz', intervalMs: 300, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 2 },
    });
    await api().loadBalancers.waitFor('web-lb', (l) => (l.status.members ?? []).filter((m) => m.healthy).length === 3, 15_000);
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) seen.add((await (await fetch('http://127.0.0.1:18622/')).text()).trim());
    assert.deepEqual([...seen].sort(), ['app1', 'app2', 'app4']);
    await exec(c(), 'app4', ['rm', '/www/healthz']);
    const t1 = Date.now();
    await api().loadBalancers.waitFor('web-lb', (l) => l.status.members?.find((m) => m.instance === 'app4')?.healthy === false, 5000);
    t.diagnostic(`failing member dropped after ${Date.now() - t1} ms`);
    for (let i = 0; i < 6; i++) assert.notEqual((await (await fetch('http://127.0.0.1:18622/')).text()).trim(), 'app4');

    // a network with instances cannot go
    await assert.rejects(api().networks.delete('backend'), (e: Error & { status?: number }) => e.status === 409);

    // restart the cloud: running instances adopted; nothing duplicated or leaked
    const mid = await census(PREFIX);
    await cloud.stop();
    cloud = await start();
    await waitState(c(), 'app1', ['running'], 30_000);
    const after = await census(PREFIX);
    assert.equal(after.links, mid.links, 'links after restart');
    assert.equal(after.netns, mid.netns, 'namespaces after restart');
    assert.equal(ownRuleset(after.ruleset, PREFIX), ownRuleset(mid.ruleset, PREFIX), 'nft ruleset lines after restart');
    assert.equal(await get(c(), 'app2', (await lookup(c(), 'app2', 'app1.backend.internal'))!, 80), 'app1');
    assert.ok(await waitFor(async () => (await fetch('http://127.0.0.1:18621/').then((r) => r.text()).catch(() => '')).trim() === 'app1', 10_000));

    // teardown through the API leaves nothing
    await api().loadBalancers.delete('web-lb');
    await api().floatingIps.delete('app1-http');
    for (const n of ['app1', 'app2', 'app3', 'app4']) await c().request('DELETE', `/v1/instances/${n}`);
    for (const n of ['app1', 'app2', 'app3', 'app4']) {
      await waitFor(async () => c().resource('instances').get(n).then(() => false, () => true), 30_000, 200);
    }
    for (const n of ['backend', 'other']) await api().networks.delete(n);
    assert.ok(await waitFor(async () => (await census(PREFIX)).links === before.links, 10_000), 'every device removed');
  } finally {
    await teardown({ compute, cloud, prefix: PREFIX, dirs: [home, stateDir] });
  }
});
