/**
 * End-to-end test of the Linux network driver against the real kernel:
 * bridges, namespaces, veths, nftables, the DNS responder and the metadata
 * DNAT. "Instances" are busybox processes run with `ip netns exec` in the
 * namespaces the driver creates. Everything carries the prefix `ytst` and is
 * removed at the end, also on failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/network/drivers/linux/exec.ts';
import { gatewayOf, parseCidr } from '../../src/network/ipam.ts';
import { LinuxNetworkDriver } from '../../src/network/drivers/linux/driver.ts';
import type { AttachSpec, DesiredNetworkState, NetworkSpec, PublishSpec } from '../../src/network/drivers/types.ts';
import { census, linuxNetworkMissing, nsGet, nsName, nsRun, pickFreeRange, Procs, scrub, skipOrFail, waitFor } from './helpers.ts';

const PREFIX = 'ytst';

test('linux network driver end to end', { timeout: 120_000 }, async (t) => {
  const missing = await linuxNetworkMissing();
  if (missing) return skipOrFail(t, missing);
  await scrub(PREFIX);

  const procs = new Procs();
  const stateDir = await mkdtemp(join(tmpdir(), 'yun-net-'));
  const www = join(stateDir, 'www');
  await run('mkdir', ['-p', www]);
  await writeFile(join(www, 'index.html'), 'hello from b\n');

  // Metadata server on loopback: answers with the caller's address as seen by the host.
  const meta = createServer((req, res) => res.end(`you are ${req.socket.remoteAddress}`));
  await new Promise<void>((r) => meta.listen(0, '127.0.0.1', r));
  const metaPort = (meta.address() as AddressInfo).port;

  const open = () => LinuxNetworkDriver.open({ prefix: PREFIX, stateDir, metadata: { host: '127.0.0.1', port: metaPort } });
  let driver = await open();

  const netA: NetworkSpec = { id: 'net-a', cidr: '10.250.1.0/24', gateway: '10.250.1.1', nat: false, dnsDomain: 'alpha.internal' };
  const netB: NetworkSpec = { id: 'net-b', cidr: '10.250.2.0/24', gateway: '10.250.2.1', nat: true, dnsDomain: 'beta.internal' };
  const allowAllIn = [{ direction: 'ingress' as const, protocol: 'any' as const }];
  const portA: AttachSpec = { networkId: 'net-a', portId: 'port-a', instanceId: 'inst-a', ip: '10.250.1.10', dnsName: 'a.alpha.internal' };
  const portB: AttachSpec = { networkId: 'net-a', portId: 'port-b', instanceId: 'inst-b', ip: '10.250.1.11', dnsName: 'b.alpha.internal', securityRules: [{ direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80 }, { direction: 'ingress', protocol: 'tcp', portMin: 7000, portMax: 7000 }] };
  const portC: AttachSpec = { networkId: 'net-b', portId: 'port-c', instanceId: 'inst-c', ip: '10.250.2.10', dnsName: 'c.beta.internal', securityRules: allowAllIn };
  const portV: AttachSpec = { networkId: 'net-a', portId: 'port-v', instanceId: 'inst-v', ip: '10.250.1.30', dnsName: 'v.alpha.internal', nic: 'tap' };
  const pub: PublishSpec = { id: 'pub-b', hostIp: '0.0.0.0', hostPort: 18931, protocol: 'tcp', targetIp: '10.250.1.11', targetPort: 80 };

  try {
    await driver.ensureNetwork(netA);
    await driver.ensureNetwork(netB);
    await driver.ensureNetwork(netA); // idempotent
    const a = await driver.attach(portA);
    const b = await driver.attach(portB);
    const c = await driver.attach(portC);
    assert.equal(a.ifname, 'eth0');
    assert.match(a.netnsPath ?? '', /^\/var\/run\/netns\/ytst-[0-9a-f]{12}$/);
    const nsA = nsName(a.netnsPath);
    const nsB = nsName(b.netnsPath);
    const nsC = nsName(c.netnsPath);
    procs.httpd(nsB, 80, www);
    procs.httpd(nsB, 8080, www);
    procs.httpd(nsC, 80, www);
    procs.start('ip', ['netns', 'exec', nsB, '/bin/busybox', 'nc', '-ll', '-p', '7000', '-e', '/bin/cat']);
    assert.ok(await waitFor(async () => (await nsGet(nsA, 'http://10.250.1.11/')) !== undefined), 'instance a reaches b by IP');

    await t.test('same network: by IP and by DNS name', async () => {
      assert.equal(await nsGet(nsA, 'http://10.250.1.11/'), 'hello from b\n');
      const ns = await nsRun(nsA, ['/bin/busybox', 'nslookup', 'b.alpha.internal', '10.250.1.1']);
      assert.match(ns.stdout, /10\.250\.1\.11/);
      // resolv.conf written for `ip netns exec`, search domain makes the short name work.
      assert.equal(await nsGet(nsA, 'http://b/'), 'hello from b\n');
      assert.equal(await nsGet(nsA, 'http://b.alpha.internal/'), 'hello from b\n');
      const nx = await nsRun(nsA, ['/bin/busybox', 'nslookup', 'nope.alpha.internal', '10.250.1.1']);
      assert.notEqual(nx.code, 0);
      // extra records, and the responder survives garbage on the wire
      await driver.setDnsRecords('net-a', [{ name: 'db.alpha.internal', ip: '10.250.1.11' }]);
      const sock = createSocket('udp4');
      for (let i = 0; i < 50; i++) sock.send(randomBytes(1 + (i % 40)), 53, '10.250.1.1');
      await new Promise((r) => setTimeout(r, 100));
      sock.close();
      assert.equal(await nsGet(nsA, 'http://db/'), 'hello from b\n');
    });

    await t.test('different networks are isolated even with forwarding on', async () => {
      // net-b is a NAT network, so the driver turned routing on: only the nft rules isolate.
      assert.equal((await run('cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1');
      assert.equal(await nsGet(nsA, 'http://10.250.2.10/', 2), undefined);
      assert.equal(await nsGet(nsC, 'http://10.250.1.11/', 2), undefined);
      // and net-b's DNS does not know net-a's names
      const ns = await nsRun(nsC, ['/bin/busybox', 'nslookup', 'b.alpha.internal', '10.250.2.1']);
      assert.doesNotMatch(ns.stdout, /10\.250\.1\.11/);
    });

    await t.test('nat network egress is masqueraded; a non-nat network cannot leave the host', async (st) => {
      // A stand-in for "outside": our own namespace behind a host veth, on a range the host does not use.
      const range = await pickFreeRange(['198.51.100.0/24', '203.0.113.0/24', '10.249.250.0/24']);
      if (!range) return skipOrFail(st, 'no unused address range for the outside stand-in');
      const base = range.split('.').slice(0, 3).join('.');
      await run('ip', ['netns', 'add', 'ytout']);
      try {
        await run('ip', ['link', 'add', 'name', 'ytout0', 'type', 'veth', 'peer', 'name', 'ytout1', 'netns', 'ytout']);
        await run('ip', ['addr', 'add', `${base}.1/24`, 'dev', 'ytout0']);
        await run('ip', ['link', 'set', 'dev', 'ytout0', 'up']);
        await run('ip', ['-n', 'ytout', 'addr', 'add', `${base}.2/24`, 'dev', 'ytout1']);
        await run('ip', ['-n', 'ytout', 'link', 'set', 'dev', 'ytout1', 'up']);
        procs.start('ip', ['netns', 'exec', 'ytout', process.execPath, '-e', "require('http').createServer((q,s)=>s.end('from '+q.socket.remoteAddress)).listen(80,'0.0.0.0')"]);
        const url = `http://${base}.2/`;
        assert.ok(await waitFor(async () => (await nsGet(nsC, url, 1)) !== undefined, 5000), 'nat instance reaches outside');
        assert.equal(await nsGet(nsC, url), `from ${base}.1`, 'source masqueraded to the host');
        assert.equal(await nsGet(nsA, url, 2), undefined, 'non-nat network stays inside');
      } finally {
        const pids = (await run('ip', ['netns', 'pids', 'ytout'], { allowFail: true })).stdout.split('\n').filter(Boolean);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {}
        }
        await run('ip', ['link', 'del', 'dev', 'ytout0'], { allowFail: true });
        await run('ip', ['netns', 'del', 'ytout'], { allowFail: true });
      }
    });

    await t.test('a network overlapping a host address is refused before anything is made', async (st) => {
      const addrs = JSON.parse((await run('ip', ['-4', '-j', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
      const host = addrs.flatMap((l) => l.addr_info.map((a) => ({ dev: l.ifname, ...a }))).find((a) => a.dev !== 'lo' && !a.dev.startsWith('y') && a.prefixlen >= 8 && a.prefixlen <= 29);
      if (!host) return st.skip('host has no non-loopback IPv4 address to collide with');
      const c = parseCidr(`${host.local}/${host.prefixlen}`, 'cidr', { strict: false });
      const before = await census(PREFIX);
      await assert.rejects(
        driver.ensureNetwork({ id: 'net-clash', cidr: c.text, gateway: gatewayOf(c), nat: false }),
        (e: { code?: string; field?: string }) => e.code === 'Conflict' && e.field === 'cidr',
      );
      assert.equal((await census(PREFIX)).links, before.links);
    });

    await t.test('security group: blocked port opens after a rule change, established flow survives', async () => {
      assert.equal(await nsGet(nsA, 'http://10.250.1.11:8080/', 2), undefined, '8080 is not allowed yet');
      // An established flow to an allowed port (an echo service on 7000) kept open across the change.
      const client = procs.start('ip', ['netns', 'exec', nsA, '/bin/busybox', 'nc', '10.250.1.11', '7000']);
      let got = '';
      client.stdout!.on('data', (d) => { got += d; });
      client.stdin!.write('ping-1\n');
      assert.ok(await waitFor(async () => got.includes('ping-1')), 'echo over the flow before the change');
      const t0 = Date.now();
      await driver.applySecurityGroups('port-b', [
        { direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80 },
        { direction: 'ingress', protocol: 'tcp', portMin: 7000, portMax: 7000 },
        { direction: 'ingress', protocol: 'tcp', portMin: 8080, portMax: 8080, remoteGroupMembers: ['10.250.1.10'] },
      ]);
      const applyMs = Date.now() - t0;
      assert.ok(applyMs < 1000, `applied in ${applyMs} ms`);
      assert.equal(await nsGet(nsA, 'http://10.250.1.11:8080/'), 'hello from b\n');
      client.stdin!.write('ping-2\n');
      assert.ok(await waitFor(async () => got.includes('ping-2')), 'established flow still carries traffic after the change');
      // whole-table replacements (any topology change) do not cut it either
      await driver.publishPort({ id: 'pub-tmp', hostIp: '127.0.0.1', hostPort: 18934, protocol: 'udp', targetIp: '10.250.1.11', targetPort: 53 });
      await driver.unpublishPort('pub-tmp');
      client.stdin!.write('ping-3\n');
      assert.ok(await waitFor(async () => got.includes('ping-3')), 'established flow survives full ruleset replacement');
      client.stdin!.end();
    });

    await t.test('published port reachable from host loopback; conflicts refused', async () => {
      await driver.applySecurityGroups('port-b', allowAllIn);
      await driver.publishPort(pub);
      await driver.publishPort(pub); // idempotent
      const r = await fetch('http://127.0.0.1:18931/');
      assert.equal(await r.text(), 'hello from b\n');
      await assert.rejects(driver.publishPort({ ...pub, id: 'pub-other', hostIp: '127.0.0.1' }), (e: { code?: string }) => e.code === 'Conflict');
      // a host process already listening there is not shadowed
      const squatter = createServer(() => undefined);
      await new Promise<void>((r) => squatter.listen(18933, '127.0.0.1', r));
      await assert.rejects(driver.publishPort({ ...pub, id: 'pub-squat', hostIp: '127.0.0.1', hostPort: 18933 }), (e: { code?: string }) => e.code === 'Conflict');
      await new Promise((r) => squatter.close(r));
      await assert.rejects(driver.publishPort({ ...pub, id: 'x', hostPort: 70000 }), (e: { code?: string; field?: string }) => e.code === 'ValidationFailed' && e.field === 'hostPort');
    });

    await t.test('bytes out of a published port are counted once, across a full ruleset rebuild', async () => {
      await driver.takeDataOut();
      const big = 'x'.repeat(200_000);
      await writeFile(join(www, 'big.txt'), big);
      assert.equal((await (await fetch('http://127.0.0.1:18931/big.txt')).text()).length, big.length);
      const first = (await driver.takeDataOut())['pub-b'] ?? 0;
      assert.ok(first >= big.length && first < big.length * 1.5, `counted ${first} bytes for a ${big.length}-byte body`);
      assert.equal((await driver.takeDataOut())['pub-b'] ?? 0, 0, 'taken bytes are forgotten');
      await fetch('http://127.0.0.1:18931/big.txt').then((r) => r.text());
      await driver.ensureNetwork(netA); // rebuilds the whole tables: counters restart at 0, harvested first
      const second = (await driver.takeDataOut())['pub-b'] ?? 0;
      assert.ok(second >= big.length && second < big.length * 1.5, `counted ${second} bytes across the rebuild`);
    });

    await t.test('metadata DNAT reaches the host server with the instance source address', async () => {
      const body = await nsGet(nsA, 'http://169.254.169.254/latest/meta-data/');
      assert.equal(body, 'you are 10.250.1.10');
      assert.deepEqual(driver.identifyInstance('10.250.1.10'), { instanceId: 'inst-a', portId: 'port-a', networkId: 'net-a' });
    });

    await t.test('a second NIC is a second attach; detaching it keeps the instance', async () => {
      const r = await driver.attach({ networkId: 'net-b', portId: 'port-a2', instanceId: 'inst-a', ip: '10.250.2.20' });
      assert.equal(r.ifname, 'eth1');
      assert.equal(r.netnsPath, a.netnsPath);
      assert.equal(await nsGet(nsA, 'http://10.250.2.10/'), 'hello from b\n', 'a reaches c over its net-b NIC');
      await driver.detach('port-a2');
      assert.equal((await run('ip', ['-n', nsA, 'link', 'show', 'dev', 'eth1'], { allowFail: true })).code, 1);
      assert.equal(await nsGet(nsA, 'http://10.250.1.11/'), 'hello from b\n', 'eth0 unaffected');
    });

    await t.test('a VM port is a persistent tap on the bridge with the anti-spoofing of a veth, no namespace', async () => {
      const r = await driver.attach(portV);
      assert.equal(r.netnsPath, null);
      assert.equal(r.ifname, 'eth0');
      assert.match(r.tap?.ifname ?? '', /^ytsth[0-9a-f]{9}$/);
      assert.match(r.tap?.mac ?? '', /^02(:[0-9a-f]{2}){5}$/);
      assert.deepEqual(await driver.attach(portV), r, 'idempotent');
      const link = JSON.parse((await run('ip', ['-d', '-j', 'link', 'show', 'dev', r.tap!.ifname])).stdout)[0];
      assert.equal(link.linkinfo.info_kind, 'tun');
      assert.equal(link.linkinfo.info_data.type, 'tap');
      assert.equal(link.linkinfo.info_data.pi, false);
      assert.equal(link.master, (JSON.parse((await run('ip', ['-d', '-j', 'link', 'show'])).stdout) as { ifname: string; ifalias?: string }[]).find((l) => l.ifalias === 'yun:net:net-a')?.ifname);
      const rules = (await run('nft', ['list', 'table', 'bridge', PREFIX])).stdout;
      assert.match(rules, new RegExp(`iifname "${r.tap!.ifname}" ether saddr != ${r.tap!.mac} drop`), 'only the port MAC may send');
      assert.match(rules, new RegExp(`iifname "${r.tap!.ifname}" ip saddr != 10\\.250\\.1\\.30 drop`), 'only the port address may send');
      assert.deepEqual(driver.identifyInstance('10.250.1.30'), { instanceId: 'inst-v', portId: 'port-v', networkId: 'net-a' });
      assert.equal((await driver.listOwned()).instances.includes('inst-v'), false, 'no namespace for a VM');
    });

    await t.test('restart + reconcile: no duplicates, leftovers removed, missing recreated, foreign untouched', async () => {
      const desired: DesiredNetworkState = {
        networks: [netA, netB],
        ports: [portA, { ...portB, securityRules: allowAllIn }, portC, portV],
        publishedPorts: [pub],
      };
      await driver.reconcile(desired);
      const before = await census(PREFIX);
      const ifindexOf = async (alias: string) => (await run('ip', ['-o', 'link'])).stdout.split('\n').find((l) => l.includes(`alias ${alias}`))?.split(':')[0];
      const portBIndex = await ifindexOf('yun:port:port-b');
      const tapIndex = await ifindexOf('yun:port:port-v');
      await fetch('http://127.0.0.1:18931/big.txt').then((r) => r.text()); // counted by the kernel, never taken by this driver
      await driver.close();
      // leftovers: a stray owned bridge and namespace; damage: a desired veth removed; foreign: a dummy link
      await run('ip', ['link', 'add', 'name', `${PREFIX}b0badbad0`, 'type', 'bridge']);
      await run('ip', ['netns', 'add', `${PREFIX}-0badbad0bad0`]);
      await run('mkdir', ['-p', `/etc/netns/${PREFIX}-0badbad0bad1`]);
      await run('ip', ['link', 'add', 'name', 'ytforeign0', 'type', 'bridge']);
      const hostVethA = (await run('ip', ['-o', 'link'])).stdout.split('\n').find((l) => l.includes('alias yun:port:port-a'))!;
      await run('ip', ['link', 'del', 'dev', /^\d+: ([^@:]+)/.exec(hostVethA)![1]!]);
      assert.equal(await nsGet(nsA, 'http://10.250.1.11/', 2), undefined, 'damage is real');
      try {
        driver = await open();
        assert.equal((await driver.takeDataOut())['pub-b'] ?? 0, 0, 'a reopened driver does not report bytes counted before it');
        await driver.reconcile(desired);
        await driver.reconcile(desired);
        const after = await census(PREFIX);
        assert.equal(after.links, before.links);
        assert.equal(after.netns, before.netns);
        assert.equal(after.tables, 3);
        assert.equal(await ifindexOf('yun:port:port-b'), portBIndex, 'an intact NIC is adopted, not recreated');
        assert.equal(await ifindexOf('yun:port:port-v'), tapIndex, 'a VM tap is never recreated (a running QEMU holds it)');
        assert.equal(after.ruleset.match(/ytst/g)?.length, before.ruleset.match(/ytst/g)?.length);
        assert.equal((await run('ip', ['link', 'show', 'dev', 'ytforeign0'], { allowFail: true })).code, 0, 'foreign link untouched');
        assert.equal(existsSync(`/etc/netns/${PREFIX}-0badbad0bad1`), false, 'stray /etc/netns dir removed');
        const owned = await driver.listOwned();
        assert.deepEqual(owned.networks.sort(), ['net-a', 'net-b']);
        assert.deepEqual(owned.ports.sort(), ['port-a', 'port-b', 'port-c', 'port-v']);
        assert.deepEqual(owned.publishedPorts, ['pub-b']);
        assert.ok(await waitFor(async () => (await nsGet(nsA, 'http://b.alpha.internal/', 2)) === 'hello from b\n'), 'recreated NIC and DNS work');
      } finally {
        await run('ip', ['link', 'del', 'dev', 'ytforeign0'], { allowFail: true });
      }
    });

    await t.test('detach, unpublish and delete leave nothing', async () => {
      await assert.rejects(driver.deleteNetwork('net-a'), (e: { code?: string }) => e.code === 'InvalidState');
      await procs.stopAll();
      await driver.unpublishPort('pub-b');
      await driver.unpublishPort('pub-b');
      for (const p of ['port-a', 'port-b', 'port-c', 'port-v']) await driver.detach(p);
      await driver.detach('port-a');
      await driver.deleteNetwork('net-a');
      await driver.deleteNetwork('net-b');
      await driver.deleteNetwork('net-b');
      const after = await census(PREFIX);
      assert.deepEqual([after.links, after.netns, after.tables], [0, 0, 0], after.ruleset);
      assert.deepEqual(await driver.listOwned(), { networks: [], ports: [], publishedPorts: [], instances: [] });
    });
  } finally {
    await procs.stopAll();
    await driver.reconcile({ networks: [], ports: [], publishedPorts: [] }).catch(() => undefined);
    await driver.close();
    await scrub(PREFIX);
    await new Promise((r) => meta.close(r));
    await rm(stateDir, { recursive: true, force: true });
  }
});
