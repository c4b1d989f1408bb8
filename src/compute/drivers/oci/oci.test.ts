/**
 * The oci driver against real crun and real cgroups: the shared contract,
 * then what only a real kernel can show (OOM kill, pids limit, CPU quota,
 * live resize, namespaces, user-data).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isYunError } from '../../../core/errors.ts';
import { buildBusyboxImage } from '../../images/busybox.ts';
import { computeDriverContract } from '../contract.test-suite.ts';
import { eventually, skipOrFail } from '../testing.ts';
import type { WorkloadSpec } from '../types.ts';
import { OciDriver } from './driver.ts';

let imageDir: string | undefined;
async function busyboxRootfs(): Promise<string> {
  imageDir ??= await mkdtemp(join(tmpdir(), 'yun-oci-image-'));
  if (!existsSync(join(imageDir, 'rootfs'))) await buildBusyboxImage(imageDir);
  return join(imageDir, 'rootfs');
}

async function unavailable(): Promise<string | undefined> {
  if (!existsSync('/bin/busybox')) return 'busybox-static not installed';
  const caps = await new OciDriver({ stateDir: join(tmpdir(), 'yun-oci-probe') }).capabilities();
  return caps.available ? undefined : caps.reason;
}

computeDriverContract({
  name: 'oci',
  makeDriver: (stateDir) => new OciDriver({ stateDir }),
  imageRootfs: busyboxRootfs,
  unavailable,
  childProcess: { module: fileURLToPath(new URL('./driver.ts', import.meta.url)), exportName: 'OciDriver' },
});

/** The driver-owned cgroup of workload `id` in a v1 controller (test-only peek). */
function cgroupFile(ctrl: string, id: string, file: string): string {
  const base = `/sys/fs/cgroup/${ctrl}/yun`;
  for (const scope of readdirSync(base)) {
    const p = join(base, scope, id, file);
    if (existsSync(p)) return p;
  }
  throw new Error(`no cgroup for ${id}`);
}

describe('oci driver on a real kernel', () => {
  let stateDir = '';
  let d: OciDriver;
  let image = '';
  let reason: string | undefined;
  let n = 0;
  const spec = (over: Partial<WorkloadSpec>): WorkloadSpec => ({ id: `k-${process.pid}-${++n}`, imageRootfs: image, command: ['sleep', '1000'], ...over });
  const guard = (t: TestContext) => {
    if (reason) skipOrFail(t, reason);
    return !!reason;
  };

  before(async () => {
    reason = await unavailable();
    if (reason) return;
    stateDir = await mkdtemp(join(tmpdir(), 'yun-oci-'));
    d = new OciDriver({ stateDir });
    image = await busyboxRootfs();
  });
  after(async () => {
    if (!reason) {
      for (const w of await d.list()) await d.delete(w.id);
      await rm(stateDir, { recursive: true, force: true });
    }
    if (imageDir) await rm(imageDir, { recursive: true, force: true });
  });

  it('a memory hog is OOM-killed and reported as oomKilled', async (t) => {
    if (guard(t)) return;
    // dd with a 200 MiB block size allocates and fills a 200 MiB buffer.
    const s = spec({ command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], limits: { memoryMb: 32 } });
    await d.create(s);
    await d.start(s.id);
    const st = await eventually(async () => ((await d.inspect(s.id))?.state === 'exited' ? d.inspect(s.id) : undefined), 20_000);
    assert.equal(st?.oomKilled, true);
    assert.equal(st?.exitCode, 137);
    // Restart with enough memory: a new run is not reported as OOM-killed.
    await d.resize(s.id, { memoryMb: 400 });
    await d.start(s.id);
    const st2 = await eventually(async () => ((await d.inspect(s.id))?.state === 'exited' ? d.inspect(s.id) : undefined), 20_000);
    assert.deepEqual([st2?.exitCode, st2?.oomKilled], [0, false]);
    await d.delete(s.id);
  });

  it('a fork bomb is held at the pids limit and stopped', async (t) => {
    if (guard(t)) return;
    const s = spec({ command: ['sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 1000'], limits: { pids: 40, cpus: 0.5, memoryMb: 128 } });
    await d.create(s);
    await d.start(s.id);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, (await d.stats(s.id)).pids);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(peak > 5, `the bomb forked (${peak} pids)`);
    assert.ok(peak <= 40, `pids held at the limit (${peak})`);
    assert.ok(Number(readFileSync(cgroupFile('pids', s.id, 'ctr/pids.events'), 'utf8').match(/max (\d+)/)?.[1]) > 0, 'fork failures recorded');
    await d.stop(s.id, { timeoutMs: 0 });
    assert.equal((await d.inspect(s.id))?.state, 'exited');
    await d.delete(s.id);
  });

  it('a busy loop is throttled to its CPU quota', async (t) => {
    if (guard(t)) return;
    const s = spec({ command: ['sh', '-c', 'while :; do :; done'], limits: { cpus: 0.25 } });
    await d.create(s);
    await d.start(s.id);
    await new Promise((r) => setTimeout(r, 300));
    const a = await d.stats(s.id);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const b = await d.stats(s.id);
    const share = (b.cpuSeconds - a.cpuSeconds) / ((Date.now() - t0) / 1000);
    // The cap is exact; the floor depends on how busy the host is (2 cores shared with other tests).
    assert.ok(share < 0.3, `cpu share ${share.toFixed(3)} of one core must not exceed the 0.25 quota`);
    assert.ok(share > 0.05, `the loop ran (${share.toFixed(3)})`);
    // Live resize of the quota takes effect without a restart.
    const pid = (await d.inspect(s.id))?.pid;
    await d.resize(s.id, { cpus: 0.75 });
    const c = await d.stats(s.id);
    const t1 = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const e = await d.stats(s.id);
    const share2 = (e.cpuSeconds - c.cpuSeconds) / ((Date.now() - t1) / 1000);
    assert.equal(readFileSync(cgroupFile('cpu', s.id, 'cpu.cfs_quota_us'), 'utf8').trim(), '75000');
    assert.ok(share2 < 0.85, `cpu share after resize ${share2.toFixed(3)}, quota 0.75`);
    if (loadavg()[0]! < cpus().length) assert.ok(share2 > 0.5, `cpu share after resize ${share2.toFixed(3)} on an idle host, quota 0.75`);
    else t.diagnostic(`host busy (load ${loadavg()[0]}): share after resize ${share2.toFixed(3)}, floor not checked`);
    assert.equal((await d.inspect(s.id))?.pid, pid, 'same process');
    await d.delete(s.id);
  });

  it('live resize raises the memory limit of a running workload', async (t) => {
    if (guard(t)) return;
    const s = spec({ limits: { memoryMb: 64, pids: 50 } });
    await d.create(s);
    await d.start(s.id);
    const pid = (await d.inspect(s.id))?.pid;
    const limitFile = cgroupFile('memory', s.id, 'memory.limit_in_bytes');
    assert.equal(readFileSync(limitFile, 'utf8').trim(), String(64 * 1048576));
    await d.resize(s.id, { memoryMb: 256 });
    assert.equal(readFileSync(limitFile, 'utf8').trim(), String(256 * 1048576));
    const st = await d.inspect(s.id);
    assert.deepEqual(st?.limits, { memoryMb: 256, pids: 50 });
    assert.equal(st?.pid, pid);
    // The new limit is really usable: 150 MiB inside the container now succeeds.
    const r = await d.exec(s.id, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=150M', 'count=1']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal((await d.inspect(s.id))?.state, 'running');
    await d.delete(s.id);
  });

  it('isolates pid, uts and network namespaces and injects files and user-data (run once)', async (t) => {
    if (guard(t)) return;
    const s = spec({
      hostname: 'web-1',
      files: [{ path: '/run/yun/meta_data.json', content: '{"uuid":"x"}' }],
      userData: '#!/bin/sh\necho booted >> /run/yun/boots\necho user-data output\n',
    });
    await d.create(s);
    await d.start(s.id);
    const ex = (argv: string[]) => d.exec(s.id, argv).then((r) => r.stdout.trim());
    assert.equal(await ex(['hostname']), 'web-1');
    assert.equal(await ex(['cat', '/proc/1/cmdline']).then((c) => c.split('\0')[0]), 'sleep', 'the command is pid 1 after init execs it');
    assert.equal(await ex(['cat', '/run/yun/meta_data.json']), '{"uuid":"x"}');
    assert.deepEqual((await ex(['ls', '/sys/class/net'])).split(/\s+/), ['lo'], 'own network namespace with loopback only');
    // seccomp: no user namespaces (they need no capability), nothing else a shell needs is refused
    assert.equal((await d.capabilities()).isolation.seccomp, true);
    const userns = await d.exec(s.id, ['unshare', '-U', 'true']);
    assert.notEqual(userns.exitCode, 0, 'creating a user namespace is refused');
    assert.match(userns.stderr, /Operation not permitted/);
    assert.equal((await d.exec(s.id, ['sh', '-c', 'echo ok | cat & wait'])).stdout, 'ok\n', 'fork, pipes and exec still work');
    assert.equal((await d.exec(s.id, ['adjtimex'])).exitCode, 0, 'reading the clock (adjtimex → clock_adjtime) still works');
    const hostNet = statSync('/proc/self/ns/net').ino;
    const pid = (await d.inspect(s.id))!.pid!;
    assert.notEqual(statSync(`/proc/${pid}/ns/net`).ino, hostNet);
    await d.stop(s.id, { timeoutMs: 0 });
    await d.start(s.id);
    assert.equal(await ex(['cat', '/run/yun/boots']), 'booted', 'user-data ran once over two starts');
    assert.equal(await ex(['cat', '/run/yun/user-data.status']), '0');
    assert.match(await d.readLog(s.id), /user-data output/);
    await d.delete(s.id);
  });

  it('joins a network namespace given by path', async (t) => {
    if (guard(t)) return;
    const ns = `yun-test-${process.pid}`;
    try {
      execFileSync('ip', ['netns', 'add', ns]);
    } catch {
      return skipOrFail(t, 'ip netns add failed (iproute2)');
    }
    try {
      const s = spec({ netnsPath: `/var/run/netns/${ns}` });
      await d.create(s);
      await d.start(s.id);
      const pid = (await d.inspect(s.id))!.pid!;
      assert.equal(statSync(`/proc/${pid}/ns/net`).ino, statSync(`/var/run/netns/${ns}`).ino);
      await d.delete(s.id);
    } finally {
      execFileSync('ip', ['netns', 'delete', ns]);
    }
  });

  it('a failed create leaves nothing behind; delete removes mounts and cgroups', async (t) => {
    if (guard(t)) return;
    const bad = spec({ imageRootfs: '/nonexistent/rootfs' });
    await assert.rejects(d.create(bad), (e) => isYunError(e) && e.code === 'ValidationFailed');
    assert.equal(existsSync(join(stateDir, 'workloads', bad.id)), false);
    // Injecting through a symlink in the image is refused, and cleaned up after.
    const evil = spec({ files: [{ path: '/bin/sh/x', content: 'x' }] });
    await assert.rejects(d.create(evil));
    assert.equal(existsSync(join(stateDir, 'workloads', evil.id)), false);
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(evil.id));
    assert.equal(readdirSync('/sys/fs/cgroup/memory/yun').some((sc) => existsSync(`/sys/fs/cgroup/memory/yun/${sc}/${evil.id}`)), false);
    const s = spec({});
    await d.create(s);
    await d.start(s.id);
    await d.delete(s.id);
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(s.id));
    for (const ctrl of ['memory', 'cpu', 'pids', 'freezer'])
      assert.equal(readdirSync(`/sys/fs/cgroup/${ctrl}/yun`).some((sc) => existsSync(`/sys/fs/cgroup/${ctrl}/yun/${sc}/${s.id}`)), false, ctrl);
  });
});
