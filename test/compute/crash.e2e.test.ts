/**
 * kill -9 of the control plane while an instance is being created leaves no
 * orphan and no duplicate: the next start adopts or finishes the workload,
 * and workloads whose instance no longer exists are deleted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OciDriver } from '../../src/compute/drivers/oci/driver.ts';
import { compute } from '../../src/sdk/compute.ts';
import { isRoot, requireCapability } from '../helpers/capability.ts';
import { startComputeCloud } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const ok = isRoot() && (existsSync('/usr/bin/crun') || existsSync('/usr/bin/runc')) && existsSync('/bin/busybox');

describe('kill -9 during create (oci driver, real crun)', () => {
  it('restarting on the same home converges to exactly one running workload and deletes orphans', async (t) => {
    if (!requireCapability(t, ok, 'needs root, crun (or runc) and busybox-static')) return;
    const home = await mkdtemp(join(tmpdir(), 'yun-compute-'));
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home], { stdio: ['ignore', 'pipe', 'inherit'] });
    const workloads = join(home, 'compute', 'oci', 'workloads');
    let created = false;
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('created')) created = true; });
    // Kill as soon as the driver starts making the workload (or right after the create was accepted).
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if ((await readdir(workloads).catch(() => [] as string[])).length > 0 || created) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // An orphan: a workload whose instance row never existed.
    const orphanDriver = new OciDriver({ stateDir: join(home, 'compute', 'oci') });
    const img = (await readdir(join(home, 'images')))[0]!;
    await orphanDriver.create({ id: 'i-orphan0000000000', imageRootfs: join(home, 'images', img, 'rootfs'), command: ['sleep', '1000'] });
    await orphanDriver.start('i-orphan0000000000');

    const cc = await startComputeCloud({ home, compute: { driver: 'oci' } });
    try {
      const r = await compute(cc.c).instance('victim').waitFor('running', 60_000);
      await new Promise((x) => setTimeout(x, 1000));
      const ws = await cc.mod.driver.list();
      assert.deepEqual(ws.map((w) => w.id), [r.id], 'exactly the victim, the orphan deleted');
      assert.equal(ws[0]!.state, 'running');
      assert.equal((await compute(cc.c).instance('victim').get()).status.pid, ws[0]!.pid);
    } finally {
      await cc.stop();
    }
  });
});
