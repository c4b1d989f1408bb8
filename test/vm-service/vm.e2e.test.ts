/**
 * VM instances and block volumes through the REST API on a real cloud:
 * tiny-vm built by the image service, a VM booted by the compute controller
 * through the qemu driver (TCG when KVM does not really work), user-data in
 * the guest, a volume hot-plugged live and written by the guest, a live
 * snapshot of it (QEMU copy while the guest runs) read back, detach,
 * snapshot, a volume from the snapshot holding the same bytes, that volume
 * mounted in container instances (read what the VM wrote, write, detach,
 * re-attach elsewhere, read back), reboot, resize (memory ballooned live;
 * more memory and another vCPU count through a stop-resize-start that keeps
 * the root disk), and adoption after a cloud restart (no second QEMU).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pipeline } from 'node:stream/promises';
import type { YunClient } from '../../src/sdk/client.ts';
import { BlockApi } from '../../src/sdk/block.ts';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { type BlockCloud, startBlockCloud, waitFor } from '../block/helpers.ts';
import { pidsMentioning } from '../vm/helpers.ts';

const BOOT_MS = 120_000;
const hasTools = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/genisoimage', '/usr/bin/crun', '/usr/bin/perl', '/usr/sbin/debugfs'].every(existsSync);

async function sha(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

async function consoleHas(c: YunClient, name: string, text: string, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const log = await compute(c).instance(name).logs();
    if (String(log).includes(text)) return String(log);
    if (Date.now() > end) throw new Error(`'${text}' not in the console of ${name} within ${timeoutMs} ms; tail:\n${String(log).slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const count = (s: string, needle: string) => s.split(needle).length - 1;

/** The first match of `re` in the console since the guest's last boot began, waiting for it. */
async function lastBootHas(c: YunClient, name: string, re: RegExp, timeoutMs: number): Promise<{ m: RegExpExecArray; boot: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const log = String(await compute(c).instance(name).logs());
    const boot = log.slice(log.lastIndexOf('init starting'));
    const m = re.exec(boot);
    if (m) return { m, boot };
    if (Date.now() > end) throw new Error(`${re} not in the console of ${name}'s last boot within ${timeoutMs} ms; tail:\n${boot.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
const BIN = join(import.meta.dirname, '../../bin/yun.mjs');
const runFile = promisify(execFile);

describe('VM instances and volumes through the API', { timeout: 900_000 }, () => {
  let bc: BlockCloud;
  let c: YunClient;
  let b: BlockApi;
  let volId = '';
  let skip = '';
  const ok = (t: import('node:test').TestContext) => requireCapability(t, !skip, skip);
  const cliEnv = () => ({ ...process.env, YUN_ENDPOINT: bc.tc.cloud.apiUrl, YUN_TOKEN: c.token!, YUN_PROJECT: 'default', YUN_HOME: bc.home });
  const yun = async (...args: string[]) => {
    try {
      const r = await runFile(process.execPath, [BIN, ...args], { env: cliEnv() });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  before(async () => {
    if (!isRoot()) { skip = 'needs root (loop mounts, crun)'; return; }
    if (!hasTools) { skip = 'needs qemu-system-x86, qemu-utils, genisoimage, crun, perl, e2fsprogs'; return; }
    bc = await startBlockCloud();
    c = bc.c;
    b = new BlockApi(c);
    await c.request('POST', '/v1/images', { body: { name: 'tiny-vm', spec: { source: { build: 'tiny-vm' } } } });
    await c.request('POST', '/v1/images', { body: { name: 'busybox', spec: { source: { build: 'busybox' } } } });
    for (const n of ['tiny-vm', 'busybox']) {
      const r = await waitFor(c, 'images', n, (x) => ['available', 'error'].includes(String(x.status.state)), 300_000);
      if (r.status.state !== 'available') skip = `image ${n} cannot be built here: ${String(r.status.reason)}`;
    }
  });

  after(async () => {
    await bc?.stop();
  });

  it('refuses a VM image as a container and a container image as a VM', async (t) => {
    if (!ok(t)) return;
    await assert.rejects(c.request('POST', '/v1/instances', { body: { name: 'bad1', spec: { image: 'tiny-vm', cpus: 1, memoryMb: 128 } } }), /VM image/);
    await assert.rejects(c.request('POST', '/v1/instances', { body: { name: 'bad2', spec: { image: 'busybox', type: 'vm', cpus: 1, memoryMb: 128 } } }), /container image/);
  });

  it('boots a VM from tiny-vm; user-data runs; the serial console is the instance log; accelerator in status', async (t) => {
    if (!ok(t)) return;
    const v = await b.volumes.create('data1', { sizeGb: 0.0625 });
    volId = v.id;
    await b.waitVolume('data1', 'available');
    const serial = volId.slice(0, 20);
    // Guest side of the live attach test: wait for the volume's disk, put a filesystem and a file on it.
    // runs at every boot: the guest's MemTotal whenever it changes (the balloon moves it), and a token
    // written to the root disk at the first boot and read back at later ones
    const userData = `#!/bin/sh
echo "UD-HELLO from $(hostname)"
( last=; while :; do m="$(sed -n 's/MemTotal: *//p' /proc/meminfo)"; [ "$m" != "$last" ] && echo "UD-MEM $m" && last="$m"; sleep 1; done ) &
[ -f /mnt/vda/ud-first ] || { echo "token-$(cat /proc/sys/kernel/random/uuid)" > /mnt/vda/ud-first; sync; }
echo "UD-DISK $(cat /mnt/vda/ud-first)"
while :; do
  for s in /sys/block/vd*/serial; do
    [ "$(cat $s 2>/dev/null)" = "${serial}" ] && dev=/dev/$(basename $(dirname $s)) && break 2
  done
  sleep 1
done
mke2fs -q $dev && mkdir -p /mnt/data && mount $dev /mnt/data && echo "written-by-the-vm" > /mnt/data/hello.txt && umount /mnt/data && sync && echo "UD-WROTE $dev"
`;
    const t0 = Date.now();
    // through the real yun binary: create (waits for running), then follow the serial console
    const udFile = join(bc.home, 'init.sh');
    await writeFile(udFile, userData);
    const created = await yun('-o', 'json', 'instance', 'create', 'vm1', '--type', 'vm', '--image', 'tiny-vm', '--cpus', '2', '--memory', '256', '--user-data', udFile);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).state, 'running');
    const follow = spawn(process.execPath, [BIN, 'instance', 'logs', '-f', 'vm1'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let followed = '';
    const sawMarker = new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no boot marker from yun instance logs -f; got:\n${followed.slice(-1500)}`)), BOOT_MS);
      follow.stdout.on('data', (d: Buffer) => { followed += d; if (followed.includes('YUN-TINY-VM: BOOTED')) { clearTimeout(timer); res(); } });
    });
    try { await sawMarker; } finally { follow.kill(); }
    const log = await consoleHas(c, 'vm1', 'YUN-TINY-VM: BOOTED', BOOT_MS);
    t.diagnostic(`create (yun CLI) → boot marker seen by yun instance logs -f: ${Date.now() - t0} ms`);
    assert.match(log, /2 vCPU, 2\d{5} kB memory/, 'cpus and memory from the instance spec');
    await consoleHas(c, 'vm1', 'UD-HELLO from vm1', 60_000);
    const st = await waitFor(c, 'instances', 'vm1', (x) => Boolean(x.status.vm), 30_000);
    const vm = st.status.vm as { accelerator: string; warnings: string[] };
    assert.equal(st.status.driver, 'qemu');
    assert.ok(['kvm', 'tcg'].includes(vm.accelerator));
    t.diagnostic(`accelerator ${vm.accelerator}${vm.warnings.length ? `; warning: ${vm.warnings.join('; ')}` : ''}`);
    assert.match(bc.vm.describe()['vm accelerator'] ?? '', /kvm|tcg/, 'doctor line');
    await assert.rejects(c.request('POST', '/v1/instances/vm1/exec', { body: { command: ['true'] } }), /exec into VMs/);
  });

  it('attaches a volume live: the guest sees the disk and writes to it; 409 for in-use; detach', async (t) => {
    if (!ok(t)) return;
    const att = await yun('-o', 'json', 'volume', 'attach', 'data1', '--instance', 'vm1');
    assert.equal(att.code, 0, att.stderr);
    const v = await b.waitVolume('data1', 'in-use', 60_000);
    assert.equal((v.status.attachment as { kind: string }).kind, 'vm');
    await consoleHas(c, 'vm1', `serial=${volId.slice(0, 20)}`, 60_000);
    await consoleHas(c, 'vm1', 'UD-WROTE', 120_000);
    await assert.rejects(b.attach('data1', 'vm1'), /in use/);
    await assert.rejects(b.volumes.delete('data1'), /attached/);
    // a live snapshot while the guest runs (QEMU copies the disk as of one instant); a volume from it holds what the guest wrote
    await b.snapshots.create('live1', { volume: 'data1' });
    const live = await b.waitSnapshot('live1');
    assert.equal((await b.volumes.get('data1')).status.state, 'in-use', 'still attached, never paused');
    await b.volumes.create('from-live', { sizeGb: live.status.sizeGb!, fromSnapshot: 'live1' });
    const fromLive = await b.waitVolume('from-live', 'available');
    const copy = (await bc.block.drivers.file.attachment(fromLive.id)).path;
    assert.equal((await runFile('debugfs', ['-R', 'cat /hello.txt', copy])).stdout, 'written-by-the-vm\n');
    await b.detach('data1');
    await b.waitVolume('data1', 'available', 60_000);
    await consoleHas(c, 'vm1', 'block device removed', 60_000);
  });

  it('a snapshot makes a new volume with the same bytes', async (t) => {
    if (!ok(t)) return;
    await b.snapshots.create('before-upgrade', { volume: 'data1' });
    await b.waitSnapshot('before-upgrade');
    await b.volumes.create('data2', { sizeGb: 0.0625, fromSnapshot: 'before-upgrade' });
    const v2 = await b.waitVolume('data2', 'available');
    const p1 = (await bc.block.drivers.file.attachment(volId)).path;
    const p2 = (await bc.block.drivers.file.attachment(v2.id)).path;
    assert.equal(await sha(p2), await sha(p1));
  });

  it('a volume in containers is a mounted filesystem: read what the VM wrote, write, detach, re-attach elsewhere, read back', async (t) => {
    if (!ok(t)) return;
    const exec = async (name: string, command: string[]) => c.request<{ stdout: string; stderr: string; exitCode: number }>('POST', `/v1/instances/${name}/exec`, { body: { command } });
    for (const n of ['c1', 'c2']) await c.request('POST', '/v1/instances', { body: { name: n, spec: { image: 'busybox', cpus: 0.5, memoryMb: 64 } } });
    for (const n of ['c1', 'c2']) assert.equal((await waitFor(c, 'instances', n, (x) => ['running', 'error'].includes(String(x.status.state)), 60_000)).status.state, 'running');
    await b.attach('data2', 'c1', { mountPath: '/data' });
    const v = await b.waitVolume('data2', 'in-use', 60_000);
    assert.equal((v.status.attachment as { mountPath: string }).mountPath, '/data');
    assert.equal((await exec('c1', ['cat', '/data/hello.txt'])).stdout, 'written-by-the-vm\n');
    assert.equal((await exec('c1', ['sh', '-c', 'echo from-c1 > /data/c1.txt && sync'])).exitCode, 0);
    await b.detach('data2');
    await b.waitVolume('data2', 'available', 60_000);
    assert.notEqual((await exec('c1', ['cat', '/data/c1.txt'])).exitCode, 0, 'gone from c1 after detach');
    await b.attach('data2', 'c2', { mountPath: '/srv/vol' });
    const onC2 = await b.waitVolume('data2', 'in-use', 60_000);
    const c2pid = (onC2.status.attachment as { pid?: number }).pid;
    assert.ok(c2pid);
    assert.equal((await exec('c2', ['cat', '/srv/vol/c1.txt'])).stdout, 'from-c1\n');
    // a container restart gives it a new mount namespace: the controller mounts the volume again
    await c.request('POST', '/v1/instances/c2/actions/reboot', { body: {} });
    const rebooted = await waitFor(c, 'volumes', 'data2', (x) => {
      const pid = (x.status.attachment as { pid?: number } | undefined)?.pid;
      return Boolean(pid) && pid !== c2pid && x.status.state === 'in-use';
    }, 60_000);
    assert.equal((await waitFor(c, 'instances', 'c2', (x) => x.status.state === 'running')).status.pid, (rebooted.status.attachment as { pid: number }).pid);
    const end = Date.now() + 30_000;
    let out = '';
    while (Date.now() < end && out !== 'from-c1\n') {
      out = (await exec('c2', ['cat', '/srv/vol/c1.txt']).catch(() => ({ stdout: '' }))).stdout;
      if (out !== 'from-c1\n') await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(out, 'from-c1\n', 'mounted again after the container restart');
    // the volume outlives the instance
    await c.request('DELETE', '/v1/instances/c2');
    await b.waitVolume('data2', 'available', 60_000);
    assert.ok(!((await b.volumes.get('data2')).spec as { attachment?: unknown }).attachment);
  });

  it('reboot goes through the driver (the guest boots again)', async (t) => {
    if (!ok(t)) return;
    const before = count(await compute(c).instance('vm1').logs(), 'YUN-TINY-VM: BOOTED');
    await c.request('POST', '/v1/instances/vm1/actions/reboot', { body: {} });
    const end = Date.now() + BOOT_MS;
    for (;;) {
      const n = count(await compute(c).instance('vm1').logs(), 'YUN-TINY-VM: BOOTED');
      if (n > before) break;
      if (Date.now() > end) assert.fail('no second boot marker after reboot');
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal((await waitFor(c, 'instances', 'vm1', (x) => x.status.state === 'running', 30_000)).status.state, 'running');
  });

  it('resize: memory ballooned live; more memory or vCPUs is 409 without allowRestart, a restart with it that keeps the root disk', async (t) => {
    if (!ok(t)) return;
    const MiB = 1024 * 1024;
    const vm = compute(c).instance('vm1');
    const running = await waitFor(c, 'instances', 'vm1', (x) => x.status.state === 'running' && Boolean(x.status.liveResize), 30_000);
    // vCPUs are hot-plugged up to the host's CPU count
    const hot = (vcpus: number) => (availableParallelism() > vcpus ? { maxVcpus: availableParallelism() } : {});
    assert.deepEqual(running.status.liveResize, { vcpus: 2, ...hot(2), minMemoryMb: 64, maxMemoryMb: 256 });
    const bootKb = Number((await lastBootHas(c, 'vm1', /UD-MEM (\d+) kB/, 30_000)).m[1]);
    const token = (await lastBootHas(c, 'vm1', /UD-DISK (token-\S+)/, 30_000)).m[1];
    assert.ok(bootKb > 0, 'guest memory on the console');

    const t0 = Date.now();
    const resized = await yun('-o', 'json', 'instance', 'resize', 'vm1', '--memory', '192'); // vCPUs left out: kept
    assert.equal(resized.code, 0, resized.stderr);
    const shrunk = await waitFor(c, 'instances', 'vm1', (x) => (x.status.limits as { memoryMb?: number } | undefined)?.memoryMb === 192, 30_000);
    assert.equal(shrunk.status.pid, running.status.pid, 'live: same QEMU');
    assert.equal((await vm.stats()).guestMemoryBytes, 192 * MiB, 'QEMU: the guest gave 64 MiB back');
    await lastBootHas(c, 'vm1', new RegExp(`UD-MEM ${bootKb - 64 * 1024} kB`), 30_000);
    t.diagnostic(`live balloon 256 → 192 MiB, seen by the guest: ${Date.now() - t0} ms`);

    await assert.rejects(vm.resize({ cpus: 1, memoryMb: 384 }), (e: Error & { status?: number }) =>
      e.status === 409 && /vCPU count changes \(2 → 1\).*above the 256 MiB.*allowRestart/.test(e.message));
    assert.equal(((await c.resource('instances').get('vm1')).spec as { memoryMb?: number }).memoryMb, 192, 'refused before any change');

    const boots = count(await vm.logs(), 'YUN-TINY-VM: BOOTED');
    const t1 = Date.now();
    await vm.resize({ cpus: 1, memoryMb: 384, allowRestart: true });
    const end = Date.now() + BOOT_MS;
    while (count(await vm.logs(), 'YUN-TINY-VM: BOOTED') <= boots) {
      if (Date.now() > end) assert.fail('no boot after the stop-resize-start');
      await new Promise((r) => setTimeout(r, 500));
    }
    const grown = await waitFor(c, 'instances', 'vm1', (x) => x.status.state === 'running' && (x.status.limits as { memoryMb?: number }).memoryMb === 384, 30_000);
    assert.notEqual(grown.status.pid, running.status.pid, 'a new QEMU');
    assert.deepEqual(grown.status.liveResize, { vcpus: 1, ...hot(1), minMemoryMb: 64, maxMemoryMb: 384 });
    const { m, boot } = await lastBootHas(c, 'vm1', /UD-DISK (\S+)/, 60_000);
    const seen = /(\d+) vCPU, (\d+) kB memory/.exec(boot);
    assert.equal(seen?.[1], '1', 'the guest sees 1 vCPU');
    assert.ok(Number(seen?.[2]) > bootKb + 100 * 1024, `the guest sees 128 MiB more memory than ${bootKb} kB: ${seen?.[2]} kB`);
    assert.equal(m[1], token, 'the root disk kept what the guest wrote');
    t.diagnostic(`stop-resize-start to the boot marker: ${Date.now() - t1} ms`);

    if (availableParallelism() < 2) return;
    // back to 2 vCPUs live through the API: hot-plugged, brought online by the guest, no restart
    const t2 = Date.now();
    await vm.resize({ cpus: 2, memoryMb: 384 });
    await lastBootHas(c, 'vm1', /vCPU cpu1 online: 2 vCPU/, 60_000);
    const plugged = await waitFor(c, 'instances', 'vm1', (x) => (x.status.limits as { cpus?: number }).cpus === 2 && (x.status.liveResize as { vcpus: number }).vcpus === 2, 30_000);
    assert.equal(plugged.status.pid, grown.status.pid, 'live: the same QEMU');
    t.diagnostic(`vCPU hot-plug 1 → 2, online in the guest: ${Date.now() - t2} ms`);
  });

  it('a restarted cloud adopts the running VM: same QEMU, never a second one', async (t) => {
    if (!ok(t)) return;
    const before = await waitFor(c, 'instances', 'vm1', (x) => x.status.state === 'running');
    const pid = before.status.pid as number;
    const home = bc.home;
    await bc.stop({ keepWorkloads: true });
    bc = await startBlockCloud({ home });
    c = bc.c;
    b = new BlockApi(c);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await waitFor(c, 'instances', 'vm1', (x) => x.status.state === 'running', 30_000);
    assert.equal(after.status.pid, pid);
    assert.deepEqual(await pidsMentioning(home), [pid]);
  });

  it('deletes: the VM, then volumes and snapshots; quota released', async (t) => {
    if (!ok(t)) return;
    for (const n of ['vm1', 'c1']) await c.request('DELETE', `/v1/instances/${n}`);
    for (const n of ['vm1', 'c1']) await c.resource('instances').waitFor(n, () => false, 1).catch(() => undefined);
    const end = Date.now() + 60_000;
    while ((await c.resource('instances').listAll()).length && Date.now() < end) await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c.resource('instances').listAll()).length, 0);
    assert.deepEqual(await pidsMentioning(bc.home), [], 'no QEMU left');
    await b.volumes.delete('data1');
    await b.volumes.delete('data2');
    await b.volumes.delete('from-live');
    await b.snapshots.delete('before-upgrade');
    await b.snapshots.delete('live1');
    while (((await b.volumes.listAll()).length || (await b.snapshots.listAll()).length) && Date.now() < end) await new Promise((r) => setTimeout(r, 300));
    assert.equal((await b.volumes.listAll()).length, 0);
    const p = await c.request<{ quotas: { resource: string; used: number }[] }>('GET', '/v1/projects/default');
    for (const q of ['volumes', 'volume_gb', 'snapshots', 'instances']) assert.equal(p.quotas.find((x) => x.resource === q)?.used, 0, q);
  });
});
