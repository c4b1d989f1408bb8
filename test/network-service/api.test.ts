/**
 * The network service through its REST API (SDK over HTTP) on the real linux
 * driver, with "instances" wired through the InstanceNetworking seam and run
 * as busybox processes in their namespaces (`ip netns exec`); the crun
 * end-to-end lives in e2e.test.ts. Kernel objects carry the prefix `ysv`.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { YunApiError } from '../../src/sdk/client.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { Procs, census, needLinux, ownRuleset, nsGet, nsRun, rmrf, scrub, startNetCloud, tmp, waitFor } from './helpers.ts';

const PREFIX = 'ysv';

async function problem(p: Promise<unknown>): Promise<YunApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof YunApiError) return e;
    throw e;
  }
  assert.fail('expected an API error');
}

test('network service API, IPAM, security groups, floating IPs, LB, restart', { timeout: 180_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  await scrub(PREFIX);
  const before = await census(PREFIX);
  const stateDir = await tmp('yun-netsvc-state-');
  const www = await tmp('yun-netsvc-www-');
  await writeFile(join(www, 'index.html'), 'hello\n');
  await writeFile(join(www, 'healthz'), 'ok\n');
  const procs = new Procs();
  const dirs: string[] = [];
  // The "instances" here have no instance resources: keep their ports (no orphan collection).
  const opts = { orphanPortGraceMs: Number.POSITIVE_INFINITY };
  let cloud = await startNetCloud({ prefix: PREFIX, stateDir, opts });
  const home = cloud.home;
  try {
    const api = new NetworkApi(cloud.admin);
    const project = (await cloud.admin.whoami()).project!;
    const projectId = (await cloud.admin.projects.get(project)).id as string;

    // --- networks: validation ---
    const backend = await api.networks.create('backend', { cidr: '10.219.0.0/24' });
    assert.equal(backend.spec.gateway, '10.219.0.1');
    assert.equal(backend.spec.mtu, 1500);
    let e = await problem(api.networks.create('over', { cidr: '10.219.0.128/25' }));
    assert.equal(e.status, 400);
    assert.equal(e.field, '/spec/cidr');
    e = await problem(api.networks.create('bad', { cidr: '10.219.1.1/24' }));
    assert.equal(e.status, 400);
    assert.equal(e.field, '/spec/cidr');
    e = await problem(api.networks.create('bad', { cidr: '10.300.1.0/24' }));
    assert.equal(e.status, 400);
    e = await problem(api.networks.create('bad', { cidr: '10.219.9.0/24', gateway: '10.219.8.1' }));
    assert.equal(e.field, '/spec/gateway');
    const other = await api.networks.create('other', { cidr: '10.219.5.0/24' });
    e = await problem(api.networks.create('shadow', { cidr: '10.219.0.0/16' }));
    assert.equal(e.field, '/spec/cidr', 'a CIDR containing an existing network is refused');
    // a network the host itself routes (e.g. the uplink's subnet) is refused too
    const uplink = (await import('node:os')).networkInterfaces();
    const hostNet = Object.entries(uplink).flatMap(([dev, as]) => (as ?? []).filter((a) => a.family === 'IPv4' && !a.internal && !dev.startsWith('y') && /\/(8|9|1\d|2[0-9])$/.test(a.cidr ?? '')).map((a) => a.cidr!))[0];
    if (hostNet) {
      const [ip, len] = hostNet.split('/');
      const o = ip!.split('.').map(Number);
      const mask = Number(len);
      const n = (((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0) & (mask === 0 ? 0 : (0xffffffff << (32 - mask)) >>> 0);
      const text = `${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')}/${mask}`;
      e = await problem(api.networks.create('uplink', { cidr: text }));
      assert.equal(e.status, 409, `host network ${text} refused`);
      assert.equal(e.field, '/spec/cidr');
    }
    await api.networks.waitFor('backend', (n) => n.status.state === 'active', 10_000);

    // --- security groups: syntax, remote group in project only ---
    e = await problem(api.securityGroups.create('bad', { rules: ['ingress tcp 99999 0.0.0.0/0'] }));
    assert.equal(e.status, 400);
    assert.equal(e.field, '/spec/rules/0');
    e = await problem(api.securityGroups.create('bad', { rules: ['sideways tcp 80'] }));
    assert.equal(e.status, 400);
    e = await problem(api.securityGroups.create('bad', { rules: ['ingress tcp 80 sg:nope'] }));
    assert.equal(e.status, 404);
    await cloud.admin.projects.create('tenant2');
    const t2 = new NetworkApi(cloud.admin.withProject('tenant2'));
    await t2.securityGroups.create('secret', { rules: [] });
    e = await problem(api.securityGroups.create('bad', { rules: ['ingress tcp 80 sg:secret'] }));
    assert.equal(e.status, 404, 'a group of another project is not found');
    const web = await api.securityGroups.create('web', { rules: ['ingress tcp 80 0.0.0.0/0', 'ingress icmp sg:web'] });
    assert.deepEqual(web.spec.rules?.[0], { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80, remoteCidr: '0.0.0.0/0' });

    // --- instances through the seam ---
    const inst = (id: string, name: string, networks?: string[], securityGroups?: string[]) => ({ id, name, project: projectId, networks, securityGroups, hostname: name });
    const a = await cloud.net.networking.prepare(inst('i-svc-a', 'app1', ['backend'], ['web']));
    const b = await cloud.net.networking.prepare(inst('i-svc-b', 'app2', ['backend:10.219.0.50']));
    const c = await cloud.net.networking.prepare(inst('i-svc-c', 'app3', ['other']));
    assert.deepEqual(a.addresses, [{ network: 'backend', ip: '10.219.0.2' }]);
    assert.deepEqual(b.addresses, [{ network: 'backend', ip: '10.219.0.50' }]);
    assert.deepEqual(await cloud.net.networking.prepare(inst('i-svc-a', 'app1', ['backend'], ['web'])), a, 'prepare is idempotent');
    assert.ok(a.files?.some((f) => f.path === '/etc/resolv.conf' && String(f.content).includes('nameserver 10.219.0.1')));
    await assert.rejects(cloud.net.networking.prepare(inst('i-svc-d', 'app4', ['backend:10.219.1.5'])), (x: Error & { field?: string; code?: string }) => x.code === 'ValidationFailed' && x.field === '/spec/networks/0');
    await assert.rejects(cloud.net.networking.prepare(inst('i-svc-d', 'app4', ['backend:10.219.0.50'])), (x: Error & { code?: string }) => x.code === 'Conflict');
    // the create-time check compute can run in its transaction
    const v = (n?: string[], g?: string[]) => cloud.net.networking.validate(cloud.cloud.ctx.store, projectId, n, g);
    await v(['backend', 'other', 'default'], ['web', 'default']);
    await v(['backend:10.219.0.77']);
    await assert.rejects(v(['backend:10.219.1.5']), (x: Error & { field?: string }) => x.field === '/spec/networks/0');
    await assert.rejects(v(['other', 'backend:10.219.0.50']), (x: Error & { field?: string; code?: string }) => x.code === 'Conflict' && x.field === '/spec/networks/1');
    await assert.rejects(v(['nope']), (x: Error & { field?: string; code?: string }) => x.code === 'NotFound' && x.field === '/spec/networks/0');
    await assert.rejects(v(undefined, ['web', 'secret']), (x: Error & { field?: string; code?: string }) => x.code === 'NotFound' && x.field === '/spec/securityGroups/1');
    const nsA = a.netnsPath!.split('/').pop()!;
    const nsB = b.netnsPath!.split('/').pop()!;
    const nsC = c.netnsPath!.split('/').pop()!;
    procs.httpd(nsA, 80, www);
    procs.httpd(nsA, 8080, www);
    procs.httpd(nsC, 80, www);

    // app2 (default group) reaches app1:80 by IP and by DNS name; not :8080 (web lacks it).
    assert.ok(await waitFor(async () => (await nsGet(nsB, 'http://10.219.0.2/')) === 'hello\n', 5000));
    assert.equal(await nsGet(nsB, 'http://app1.backend.internal/'), 'hello\n');
    assert.equal(await nsGet(nsB, 'http://10.219.0.2:8080/', 2), undefined, 'port 8080 is not allowed by sg web');
    // different networks cannot talk
    assert.equal(await nsGet(nsB, 'http://10.219.5.2/', 2), undefined);
    assert.equal((await nsRun(nsC, ['/bin/busybox', 'ping', '-c', '1', '-W', '1', '10.219.0.2'])).code !== 0, true);

    // two NICs: one instance on both networks answers each on its own address; the networks stay apart
    const m = await cloud.net.networking.prepare(inst('i-svc-m', 'multi', ['backend', 'other']));
    assert.deepEqual(m.addresses.map((x) => x.network), ['backend', 'other']);
    const nsM = m.netnsPath!.split('/').pop()!;
    procs.httpd(nsM, 80, www);
    const [mb, mo] = m.addresses.map((x) => x.ip);
    assert.ok(await waitFor(async () => (await nsGet(nsB, `http://${mb}/`)) === 'hello\n', 5000), 'multi via backend');
    assert.ok(await waitFor(async () => (await nsGet(nsC, `http://${mo}/`)) === 'hello\n', 5000), 'multi via other');
    assert.equal(await nsGet(nsC, `http://${mb}/`, 2), undefined, 'no routing through the two-NIC instance');
    await cloud.net.networking.release(inst('i-svc-m', 'multi'));

    // rule add → allowed within a second, without restarting anything
    const t0 = Date.now();
    await api.securityGroups.addRule('web', 'ingress tcp 8080 10.219.0.0/24');
    assert.ok(await waitFor(async () => (await nsGet(nsB, 'http://10.219.0.2:8080/', 1)) === 'hello\n', 3000), 'rule took effect');
    const applyMs = Date.now() - t0;
    assert.ok(applyMs < 1500, `rule applied in ${applyMs} ms`);
    e = await problem(api.securityGroups.addRule('web', 'ingress tcp 8080 10.219.0.0/24'));
    assert.equal(e.status, 409);
    await api.securityGroups.deleteRule('web', 'ingress tcp 8080 10.219.0.0/24');
    assert.ok(await waitFor(async () => (await nsGet(nsB, 'http://10.219.0.2:8080/', 1)) === undefined, 3000), 'rule delete took effect');
    e = await problem(api.securityGroups.addRule('web', 'ingress tcp 80-70'));
    assert.equal(e.status, 400);
    assert.equal(e.field, '/rule/portMax');

    // --- floating IP: reachable from loopback; host port conflicts refused ---
    await api.floatingIps.create('app1-http', { instance: 'app1', port: 80, hostPort: 18611 });
    await api.floatingIps.waitFor('app1-http', (f) => f.status.state === 'active', 10_000);
    assert.ok(await waitFor(async () => (await fetch('http://127.0.0.1:18611/').then((r) => r.text()).catch(() => '')) === 'hello\n', 5000));
    e = await problem(api.floatingIps.create('dup', { instance: 'app2', port: 80, hostPort: 18611 }));
    assert.equal(e.status, 409);
    assert.equal(e.field, '/spec/hostPort');
    e = await problem(api.floatingIps.create('ghost', { instance: 'nobody', port: 80 }));
    assert.equal(e.status, 404);

    // --- load balancer over three members; a failing member is dropped ---
    const d = await cloud.net.networking.prepare(inst('i-svc-d', 'app4', ['backend']));
    const nsD = d.netnsPath!.split('/').pop()!;
    const wwwB = await tmp('yun-netsvc-wwwb-');
    const wwwD = await tmp('yun-netsvc-wwwd-');
    dirs.push(wwwB, wwwD);
    await writeFile(join(wwwB, 'index.html'), 'b\n');
    await writeFile(join(wwwB, 'healthz'), 'ok\n');
    await writeFile(join(wwwD, 'index.html'), 'd\n');
    await writeFile(join(wwwD, 'healthz'), 'ok\n');
    procs.httpd(nsB, 80, wwwB);
    const httpdD = procs.httpd(nsD, 80, wwwD);
    await api.loadBalancers.create('web-lb', {
      network: 'backend', listeners: [{ protocol: 'http', port: 18612, hostIp: '127.0.0.1' }],
      members: [{ instance: 'app1', port: 80 }, { instance: 'app2', port: 80 }, { instance: 'app4', port: 80 }],
      healthCheck: { path: '/healthz', intervalMs: 300, timeoutMs: 200, healthyThreshold: 1, unhealthyThreshold: 2 },
    });
    await api.loadBalancers.waitFor('web-lb', (l) => (l.status.members as { healthy: boolean }[] | undefined)?.filter((m) => m.healthy).length === 3, 15_000);
    const seen = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const body = await (await fetch('http://127.0.0.1:18612/')).text();
      seen.set(body, (seen.get(body) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['b\n', 'd\n', 'hello\n']);
    httpdD.kill('SIGKILL');
    const dropAt = Date.now();
    await api.loadBalancers.waitFor('web-lb', (l) => (l.status.members as { instance: string; healthy: boolean }[]).find((m) => m.instance === 'app4')?.healthy === false, 5000);
    assert.ok(Date.now() - dropAt < 3000);
    for (let i = 0; i < 6; i++) assert.notEqual(await (await fetch('http://127.0.0.1:18612/')).text(), 'd\n');

    // --- deleting a network with instances → 409 ---
    e = await problem(api.networks.delete('backend'));
    assert.equal(e.status, 409);
    const ports = await api.networks.ports('backend');
    assert.equal(ports.items.length, 3);

    // --- restart: nothing duplicated, nothing leaked ---
    const mid = await census(PREFIX);
    await cloud.stop();
    cloud = await startNetCloud({ prefix: PREFIX, stateDir, home, opts });
    const after = await census(PREFIX);
    assert.equal(after.links, mid.links);
    assert.equal(after.netns, mid.netns);
    assert.equal(ownRuleset(after.ruleset, PREFIX), ownRuleset(mid.ruleset, PREFIX));
    assert.ok(await waitFor(async () => (await fetch('http://127.0.0.1:18611/').then((r) => r.text()).catch(() => '')) === 'hello\n', 5000), 'published port after restart');
    assert.ok(await waitFor(async () => (await nsGet(nsB, 'http://app1.backend.internal/')) === 'hello\n', 8000), 'DNS after restart');

    // --- release: addresses reclaimed, devices gone; then networks delete ---
    await procs.stopAll();
    const api2 = new NetworkApi(cloud.admin);
    await api2.loadBalancers.delete('web-lb');
    await api2.floatingIps.delete('app1-http');
    for (const [id, name] of [['i-svc-a', 'app1'], ['i-svc-b', 'app2'], ['i-svc-c', 'app3'], ['i-svc-d', 'app4']] as const) {
      await cloud.net.networking.release(inst(id, name));
    }
    const again = await cloud.net.networking.prepare(inst('i-svc-e', 'app5', ['backend']));
    assert.deepEqual(again.addresses, [{ network: 'backend', ip: '10.219.0.2' }], 'address reclaimed');
    await cloud.net.networking.release(inst('i-svc-e', 'app5'));
    await api2.networks.delete('backend');
    await api2.networks.delete('other');
    await api2.networks.delete('default').catch(() => undefined);
    assert.ok(await waitFor(async () => (await census(PREFIX)).links === before.links, 5000), 'every device removed');
    void other;
  } finally {
    await procs.stopAll();
    await cloud.stop().catch(() => undefined);
    await rmrf(home);
    await scrub(PREFIX);
    await rmrf(stateDir);
    await rmrf(www);
    for (const d of dirs) await rmrf(d);
  }
});
