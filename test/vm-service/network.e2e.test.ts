/**
 * VMs on yun networks, end to end: a tiny-vm under QEMU (TCG when KVM does
 * not really work) and a crun container on one network through the public
 * API, wired exactly as `defaultModules` wires them. The VM's NIC is a tap
 * on the network's bridge: it gets its address from the seed, reaches the
 * metadata service at 169.254.169.254 and the container by address and DNS
 * name; the container reaches the VM where its security group allows and
 * not where it does not; a published port and a load balancer reach the
 * VM; a cloud restart adopts the VM with its link intact; delete leaves no
 * device behind. Kernel objects carry the prefix `yvn`. One TCG boot.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { computeModule, type ComputeModule } from '../../src/compute/module.ts';
import { vmSupport } from '../../src/compute/vm/module.ts';
import { resolveConfig } from '../../src/core/config.ts';
import { metadataTarget } from '../../src/network/module.ts';
import type { YunClient } from '../../src/sdk/client.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { compute as computeApi } from '../../src/sdk/compute.ts';
import { requireCapability } from '../helpers/capability.ts';
import { yunCli } from '../helpers/cli.ts';
import { buildImage, waitState } from '../compute/helpers.ts';
import { census, needLinux, scrub, startNetCloud, teardown, tmp, waitFor, type NetCloud } from '../network-service/helpers.ts';
import { pidsMentioning } from '../vm/helpers.ts';

const PREFIX = 'yvn';
const BOOT_MS = 180_000;
const hasTools = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/genisoimage', '/usr/bin/crun'].every(existsSync);

async function exec(c: YunClient, name: string, command: string[], stdin?: string): Promise<{ stdout: string; exitCode: number }> {
  return c.request('POST', `/v1/instances/${name}/exec`, { body: { command, timeoutMs: 8000, ...(stdin !== undefined ? { stdin } : {}) } });
}

/** HTTP GET from inside a container with busybox nc; the body or undefined. */
async function get(c: YunClient, from: string, host: string, port: number): Promise<string | undefined> {
  const r = await exec(c, from, ['nc', '-w', '2', host, String(port)], `GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  const i = r.stdout.indexOf('\r\n\r\n');
  if (r.exitCode !== 0 || !r.stdout.startsWith('HTTP/1.') || i < 0) return undefined;
  return r.stdout.slice(i + 4).trim();
}

async function consoleHas(c: YunClient, name: string, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const log = String(await computeApi(c).instance(name).logs());
    const m = re.exec(log);
    if (m) return m;
    if (Date.now() > end) throw new Error(`${re} not in the console of ${name} within ${timeoutMs} ms; tail:\n${log.slice(-2500)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Guest side: HTTP GET with busybox nc (static busybox wget needs NSS for names), printed on one tagged line. */
const guestGet = (tag: string, host: string, path: string) =>
  `echo "${tag} $(printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${host} 80 | sed '1,/^\\r$/d' | tr -d '\\r\\n')"`;

test('VMs on yun networks: tap NIC, address, metadata, SG, DNS, published port, LB, adoption, cleanup', { timeout: 900_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  if (!requireCapability(t, hasTools, 'needs qemu-system-x86, qemu-utils, genisoimage, crun')) return;
  await scrub(PREFIX);
  const before = await census(PREFIX);
  const stateDir = await tmp('yun-vmnet-state-');
  const home = await tmp('yun-vmnet-');
  let compute: ComputeModule | undefined;
  const start = async () => {
    const config = resolveConfig({ home }, {});
    const md = await metadataTarget(config);
    const vm = vmSupport(config, { accelerator: 'auto', stopTimeoutMs: 3000 });
    return startNetCloud({
      prefix: PREFIX, stateDir, home, opts: { metadata: () => md },
      extra: async (net) => [vm, compute = computeModule(config, { networking: net.networking, metadataPort: md.port, stopTimeoutMs: 3000, pollMs: 200, wrapDriver: vm.wrap })],
    });
  };
  let cloud: NetCloud = await start();
  const c = () => cloud.admin;
  try {
    const api = () => new NetworkApi(c());
    await buildImage(c(), 'busybox', 'busybox');
    await c().request('POST', '/v1/images', { body: { name: 'tiny-vm', spec: { source: { build: 'tiny-vm' } } } });
    const img = await c().resource('images').waitFor('tiny-vm', (r) => ['available', 'error'].includes(String(r.status.state)), 300_000);
    if (!requireCapability(t, img.status.state === 'available', `tiny-vm cannot be built here: ${String(img.status.reason)}`)) return;

    await api().networks.create('backend', { cidr: '10.219.0.0/24' });
    await api().securityGroups.create('web', { rules: ['ingress tcp 80 0.0.0.0/0', 'ingress icmp 0.0.0.0/0'] });
    // the container through the real yun binary: --network / --security-group
    const { yun } = yunCli({ endpoint: cloud.cloud.apiUrl, token: c().token!, home });
    const bad = await yun('instance', 'create', 'c0', '--image', 'busybox', '--cpus', '0.2', '--memory', '64', '--network', 'nope', '--no-wait');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /field \/spec\/networks\/0/);
    const made = await yun('instance', 'create', 'c1', '--image', 'busybox', '--cpus', '0.2', '--memory', '64', '--network', 'backend', '--security-group', 'web',
      '--', '/bin/sh', '-c', 'mkdir -p /www && echo c1 > /www/index.html && exec httpd -f -p 80 -h /www');
    assert.equal(made.code, 0, made.stderr);
    const c1 = await waitState(c(), 'c1', ['running', 'error'], 60_000);
    assert.equal(c1.status.state, 'running', JSON.stringify(c1.status));
    const c1ip = (c1.status.addresses as { ip: string }[])[0]!.ip;

    const userData = [
      '#!/bin/sh',
      'mkdir -p /www && echo vm1 > /www/index.html && httpd -p 80 -h /www && httpd -p 8080 -h /www && echo VMNET-HTTPD',
      guestGet('VMNET-MD', '169.254.169.254', '/latest/meta-data/instance-id'),
      guestGet('VMNET-C1', c1ip, '/'),
      'echo "VMNET-DNS $(nslookup c1.backend.internal 2>/dev/null | sed -n \'s/^Address:* *\\([0-9.]*\\)$/\\1/p\' | tail -1)"',
      '',
    ].join('\n');
    const t0 = Date.now();
    await c().request('POST', '/v1/instances', { body: { name: 'vm1', spec: {
      image: 'tiny-vm', type: 'vm', cpus: 1, memoryMb: 192, networks: ['backend'], securityGroups: ['web'], userData,
    } } });
    const vm1 = await waitState(c(), 'vm1', ['running', 'error'], BOOT_MS);
    assert.equal(vm1.status.state, 'running', JSON.stringify(vm1.status));
    const vmip = (vm1.status.addresses as { network: string; ip: string }[])[0]!;
    assert.equal(vmip.network, 'backend');
    assert.match(vmip.ip, /^10\.219\.0\.\d+$/);
    assert.match((await yun('instance', 'list')).stdout, new RegExp(`vm1\\s+running\\s+vm\\s+tiny-vm\\s.*backend=${vmip.ip}`), 'the list shows type and addresses');

    // the guest configured the address from the seed and reached the network
    await consoleHas(c(), 'vm1', new RegExp(`net eth0 \\S+ ${vmip.ip.replaceAll('.', '\\.')}/24`), BOOT_MS);
    await consoleHas(c(), 'vm1', /VMNET-HTTPD/, 60_000);
    await consoleHas(c(), 'vm1', /disk vda size=2097152 sectors/, 1000); // the flavor's 1 GB root disk, over tiny-vm's 64 MiB base
    t.diagnostic(`create → guest network up and httpd serving: ${Date.now() - t0} ms`);
    assert.equal((await consoleHas(c(), 'vm1', /VMNET-MD (\S*)/, 30_000))[1], (vm1 as unknown as { id: string }).id, 'metadata at 169.254.169.254 answers with the VM\'s own instance id');
    assert.equal((await consoleHas(c(), 'vm1', /VMNET-C1 (\S*)/, 30_000))[1], 'c1', 'VM → container by address');
    assert.equal((await consoleHas(c(), 'vm1', /VMNET-DNS (\S*)/, 30_000))[1], c1ip, 'VM resolves the container\'s DNS name');

    // container → VM: port 80 allowed by the group, 8080 is not (enforced on the tap port)
    assert.ok(await waitFor(async () => (await get(c(), 'c1', vmip.ip, 80)) === 'vm1', 10_000), 'container reaches the VM on an allowed port');
    assert.equal(await get(c(), 'c1', vmip.ip, 8080), undefined, 'security group blocks 8080');
    await api().securityGroups.addRule('web', 'ingress tcp 8080 10.219.0.0/24');
    assert.ok(await waitFor(async () => (await get(c(), 'c1', vmip.ip, 8080)) === 'vm1', 5000), '8080 open after the rule add, no restart');
    // the VM's groups change live through the CLI: out of web (into default, which c1 is not in), then back
    const removed = await yun('instance', 'remove-security-group', 'vm1', 'web', '-o', 'json');
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(await waitFor(async () => (await get(c(), 'c1', vmip.ip, 8080)) === undefined, 6000), 'out of web: 8080 closed');
    const again = await yun('instance', 'remove-security-group', 'vm1', 'web');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not in security group web/);
    const added = await yun('instance', 'add-security-group', 'vm1', 'web', '-o', 'json');
    assert.deepEqual(JSON.parse(added.stdout).securityGroups, ['default', 'web']);
    assert.ok(await waitFor(async () => (await get(c(), 'c1', vmip.ip, 8080)) === 'vm1', 5000), 'back in web: 8080 open, the VM never restarted');

    // published port and load balancer reach the VM
    await api().floatingIps.create('vm1-http', { instance: 'vm1', port: 80, hostPort: 18631 });
    const viaFip = () => fetch('http://127.0.0.1:18631/').then((r) => r.text()).catch(() => '').then((s) => s.trim());
    assert.ok(await waitFor(async () => (await viaFip()) === 'vm1', 10_000), 'published port → VM');
    await api().loadBalancers.create('mixed', {
      network: 'backend', listeners: [{ protocol: 'http', port: 18632, hostIp: '127.0.0.1' }],
      members: [{ instance: 'vm1', port: 80 }, { instance: 'c1', port: 80 }],
      healthCheck: { path: '/', intervalMs: 300, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 3 },
    });
    await api().loadBalancers.waitFor('mixed', (l) => (l.status.members ?? []).filter((m) => m.healthy).length === 2, 20_000);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await (await fetch('http://127.0.0.1:18632/')).text()).trim());
    assert.deepEqual([...seen].sort(), ['c1', 'vm1'], 'load balancer spreads over the VM and the container');

    // a flavor with a bigger disk grows the root disk live (vCPUs and memory unchanged); a smaller one is refused
    await c().request('POST', '/v1/flavors', { body: { name: 'vm.grow', spec: { vcpus: 1, ramMb: 192, diskGb: 2 } } });
    await c().request('POST', '/v1/instances/vm1/actions/resize', { body: { flavor: 'vm.grow' } });
    await consoleHas(c(), 'vm1', /block device vda resized to 4194304 sectors/, 60_000);
    await assert.rejects(c().request('POST', '/v1/instances/vm1/actions/resize', { body: { flavor: 'm1.tiny' } }), /never shrunk/);

    // restart the cloud: the VM is adopted (same QEMU) and its tap still carries traffic
    const pid = (await waitState(c(), 'vm1', ['running'])).status.pid;
    const mid = await census(PREFIX);
    await cloud.stop();
    cloud = await start();
    assert.equal((await waitState(c(), 'vm1', ['running'], 30_000)).status.pid, pid, 'same QEMU after restart');
    assert.deepEqual(await pidsMentioning(home), [pid], 'never a second QEMU');
    assert.equal((await census(PREFIX)).links, mid.links, 'no link duplicated or lost by the restart');
    assert.ok(await waitFor(async () => (await viaFip()) === 'vm1', 10_000), 'published port → VM after restart');
    assert.equal(await get(c(), 'c1', vmip.ip, 80), 'vm1');

    // teardown through the API leaves no device
    await api().loadBalancers.delete('mixed');
    await api().floatingIps.delete('vm1-http');
    for (const n of ['vm1', 'c1']) await c().request('DELETE', `/v1/instances/${n}`);
    for (const n of ['vm1', 'c1']) await waitFor(async () => c().resource('instances').get(n).then(() => false, () => true), 60_000, 200);
    assert.deepEqual(await pidsMentioning(home), [], 'no QEMU left');
    await api().networks.delete('backend');
    assert.ok(await waitFor(async () => (await census(PREFIX)).links === before.links, 10_000), 'every device removed (tap included)');
  } finally {
    await teardown({ compute, cloud, prefix: PREFIX, dirs: [home, stateDir] });
  }
});
