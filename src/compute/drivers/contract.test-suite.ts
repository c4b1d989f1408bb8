/**
 * The shared contract every ComputeDriver passes. Each driver's test file
 * calls `computeDriverContract(...)` with a factory; the suite uses only
 * commands every backend can run (`echo`, `env`, `sh -c 'exit N'`,
 * `sleep N`) and the public interface.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isYunError } from '../../core/errors.ts';
import { eventually, skipOrFail } from './testing.ts';
import { type ComputeDriver, type WorkloadSpec, isExecable } from './types.ts';

export interface ContractTarget {
  name: string;
  /** Why this driver cannot run here (the suite then skips, or fails under CI=true). */
  unavailable?: () => Promise<string | undefined>;
  /** A NEW driver instance on `stateDir`. Called again with the same dir to simulate a control-plane restart. */
  makeDriver(stateDir: string): ComputeDriver;
  /** Rootfs of an image with /bin/sh, echo, env, sleep. */
  imageRootfs(): Promise<string>;
  /**
   * Where the driver class lives, for the test that starts a workload from a
   * separate Node process which then exits (omit for in-memory drivers).
   */
  childProcess?: { module: string; exportName: string; options?: object };
  /** Called after the suite (stop fakes' timers, remove images). */
  teardown?(): Promise<void>;
}

export function computeDriverContract(target: ContractTarget): void {
  describe(`ComputeDriver contract: ${target.name}`, () => {
    let stateDir = '';
    let driver: ComputeDriver;
    let image = '';
    let reason: string | undefined;
    let n = 0;
    const spec = (over: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
      id: `c-${target.name}-${process.pid}-${++n}`,
      imageRootfs: image,
      command: ['sleep', '1000'],
      limits: { cpus: 0.5, memoryMb: 64, pids: 64 },
      ...over,
    });
    const guard = (t: TestContext) => {
      if (reason) skipOrFail(t, reason);
      return !!reason;
    };
    const exited = (d: ComputeDriver, id: string) =>
      eventually(async () => {
        const s = await d.inspect(id);
        return s?.state === 'exited' ? s : undefined;
      }, 15_000, `${id} to exit`);

    before(async () => {
      reason = await target.unavailable?.();
      if (reason) return;
      stateDir = await mkdtemp(join(tmpdir(), `yun-contract-${target.name}-`));
      driver = target.makeDriver(stateDir);
      image = await target.imageRootfs();
    });

    after(async () => {
      if (reason) return;
      for (const w of await driver.list()) await driver.delete(w.id);
      assert.deepEqual(await driver.list(), [], 'delete removed everything');
      await target.teardown?.();
      await rm(stateDir, { recursive: true, force: true });
    });

    it('capabilities are data and say available', async (t) => {
      if (guard(t)) return;
      const c = await driver.capabilities();
      assert.equal(c.available, true);
      assert.equal(typeof c.isolation.pid, 'boolean');
      assert.deepEqual(JSON.parse(JSON.stringify(c)), c, 'capabilities survive JSON');
    });

    it('create → start → inspect → stop → delete', async (t) => {
      if (guard(t)) return;
      const s = spec();
      await driver.create(s);
      const created = await driver.inspect(s.id);
      assert.equal(created?.state, 'created');
      assert.equal(created?.pid, undefined);
      await driver.start(s.id);
      const running = await driver.inspect(s.id);
      assert.equal(running?.state, 'running');
      assert.ok(running?.pid && running.pid > 0, 'running workload has a pid');
      assert.ok(running?.startedAt);
      await driver.start(s.id); // no-op while running
      assert.equal((await driver.inspect(s.id))?.pid, running?.pid, 'second start does not start a second copy');
      const t0 = Date.now();
      await driver.stop(s.id, { timeoutMs: 300 });
      assert.ok(Date.now() - t0 < 10_000, 'stop escalates to SIGKILL after the timeout');
      const stopped = await driver.inspect(s.id);
      assert.equal(stopped?.state, 'exited');
      assert.ok(stopped?.finishedAt);
      await driver.stop(s.id); // no-op when exited
      await driver.delete(s.id);
      assert.equal(await driver.inspect(s.id), undefined);
      await assert.rejects(driver.start(s.id), (e) => isYunError(e) && e.code === 'NotFound');
    });

    it('overlapping create/start calls start exactly one copy', async (t) => {
      if (guard(t)) return;
      const s = spec();
      await Promise.all([driver.create(s), driver.create(s)]);
      await Promise.all([driver.start(s.id), driver.start(s.id), driver.start(s.id)]);
      const st = await driver.inspect(s.id);
      assert.equal(st?.state, 'running');
      const stats = await driver.stats(s.id);
      assert.ok(stats.pids <= 2, `one copy running (pids ${stats.pids})`);
      await Promise.all([driver.stop(s.id, { timeoutMs: 0 }), driver.delete(s.id)]);
      assert.equal(await driver.inspect(s.id), undefined);
    });

    it('delete of a missing workload succeeds', async (t) => {
      if (guard(t)) return;
      await driver.delete('c-never-created');
      await driver.delete('c-never-created');
    });

    it('create is idempotent by id (first spec wins)', async (t) => {
      if (guard(t)) return;
      const s = spec({ command: ['echo', 'first'] });
      await driver.create(s);
      await driver.create({ ...s, command: ['echo', 'second'] });
      assert.equal((await driver.list()).filter((w) => w.id === s.id).length, 1);
      await driver.start(s.id);
      await exited(driver, s.id);
      assert.match(await driver.readLog(s.id), /first/);
      assert.doesNotMatch(await driver.readLog(s.id), /second/);
      await driver.delete(s.id);
    });

    it('rejects an invalid spec and leaves nothing behind', async (t) => {
      if (guard(t)) return;
      await assert.rejects(driver.create(spec({ id: 'Bad_Id' })), (e) => isYunError(e) && e.code === 'ValidationFailed');
      await assert.rejects(driver.create(spec({ command: [] })), (e) => isYunError(e) && e.code === 'ValidationFailed');
      assert.equal((await driver.list()).some((w) => w.id === 'Bad_Id'), false);
    });

    it('reports the exit code, and a restart after exit', async (t) => {
      if (guard(t)) return;
      const s = spec({ command: ['sh', '-c', 'exit 7'] });
      await driver.create(s);
      await driver.start(s.id);
      const st = await exited(driver, s.id);
      assert.equal(st.exitCode, 7);
      assert.equal(st.oomKilled, false);
      await driver.start(s.id);
      assert.equal((await exited(driver, s.id)).exitCode, 7);
      await driver.delete(s.id);
    });

    it('captures console output in the log', async (t) => {
      if (guard(t)) return;
      const s = spec({ command: ['echo', 'hello from the workload'] });
      await driver.create(s);
      assert.equal(await driver.readLog(s.id), '');
      await driver.start(s.id);
      await exited(driver, s.id);
      assert.match(await driver.readLog(s.id), /hello from the workload/);
      assert.equal(await driver.readLog(s.id, { tailBytes: 9 }), 'workload\n');
      assert.ok(driver.logPath(s.id).startsWith('/'));
      await driver.delete(s.id);
    });

    it('a workload that exits at once is reported exited with its code, never "did not start"', async (t) => {
      if (guard(t)) return;
      // runc reaps a workload that exits before `run -d` returns and answers with its status.
      for (let i = 0; i < 25; i++) {
        const s = spec({ command: ['sh', '-c', 'exit 7'] });
        await driver.create(s);
        await driver.start(s.id);
        assert.equal((await exited(driver, s.id)).exitCode, 7);
        await driver.delete(s.id);
      }
    });

    it('passes command and env without a shell (metacharacters arrive literally)', async (t) => {
      if (guard(t)) return;
      const nasty = 'a;b && echo PWNED $(id) `id` | * > /tmp/x "q" \'s\'';
      const s1 = spec({ command: ['echo', nasty, '$HOME'] });
      await driver.create(s1);
      await driver.start(s1.id);
      await exited(driver, s1.id);
      assert.equal(await driver.readLog(s1.id), `${nasty} $HOME\n`);
      const s2 = spec({ command: ['env'], env: { NASTY: nasty } });
      await driver.create(s2);
      await driver.start(s2.id);
      assert.equal((await exited(driver, s2.id)).exitCode, 0);
      assert.ok((await driver.readLog(s2.id)).split('\n').includes(`NASTY=${nasty}`), await driver.readLog(s2.id));
      await driver.delete(s1.id);
      await driver.delete(s2.id);
    });

    it('a new driver on the same state dir adopts running workloads (no second copy)', async (t) => {
      if (guard(t)) return;
      const s = spec();
      await driver.create(s);
      await driver.start(s.id);
      const before = await driver.inspect(s.id);
      const restarted = target.makeDriver(stateDir);
      const found = (await restarted.list()).find((w) => w.id === s.id);
      assert.equal(found?.state, 'running');
      assert.equal(found?.pid, before?.pid);
      await restarted.start(s.id);
      assert.equal((await restarted.inspect(s.id))?.pid, before?.pid, 'start after restart is a no-op');
      assert.equal((await restarted.list()).filter((w) => w.id === s.id).length, 1);
      await restarted.stop(s.id, { timeoutMs: 0 });
      assert.equal((await driver.inspect(s.id))?.state, 'exited', 'the old instance sees the same truth');
      await restarted.delete(s.id);
      assert.equal(await driver.inspect(s.id), undefined);
    });

    it('a workload started by a control plane that then exited is adopted', async (t) => {
      if (guard(t)) return;
      if (!target.childProcess) return t.skip('in-memory driver: nothing outlives the process');
      const s = spec();
      const helper = fileURLToPath(new URL('./start-in-child.ts', import.meta.url));
      const arg = JSON.stringify({ ...target.childProcess, stateDir, spec: s });
      const out = execFileSync(process.execPath, ['--import', 'tsx', helper, arg], { encoding: 'utf8', timeout: 60_000 });
      const started = JSON.parse(out) as { state: string; pid: number };
      assert.equal(started.state, 'running');
      const adopted = await driver.inspect(s.id);
      assert.equal(adopted?.state, 'running', 'still running after its starter exited');
      assert.equal(adopted?.pid, started.pid);
      await driver.stop(s.id, { timeoutMs: 200 });
      assert.equal((await driver.inspect(s.id))?.state, 'exited');
      await driver.delete(s.id);
    });

    it('stats of a running workload', async (t) => {
      if (guard(t)) return;
      const s = spec();
      await driver.create(s);
      await driver.start(s.id);
      const st = await driver.stats(s.id);
      assert.ok(st.pids >= 1 && st.pids <= 64, `pids ${st.pids}`);
      assert.ok(st.cpuSeconds >= 0 && st.memoryBytes >= 0);
      await driver.delete(s.id);
      assert.equal(await driver.inspect(s.id), undefined, 'delete of a running workload kills and removes it');
    });

    it('exec runs argv inside a running workload', async (t) => {
      if (guard(t)) return;
      if (!isExecable(driver)) return t.skip(`${target.name} does not implement Execable`);
      const s = spec({ env: { GREETING: 'hi there' } });
      await driver.create(s);
      await assert.rejects(driver.exec(s.id, ['echo', 'x']), (e) => isYunError(e) && e.code === 'InvalidState');
      await driver.start(s.id);
      const r = await driver.exec(s.id, ['echo', 'a;b', '$(id)']);
      assert.deepEqual(r, { stdout: 'a;b $(id)\n', stderr: '', exitCode: 0 });
      assert.equal((await driver.exec(s.id, ['sh', '-c', 'exit 3'])).exitCode, 3);
      assert.ok((await driver.exec(s.id, ['env'])).stdout.split('\n').includes('GREETING=hi there'), 'workload env is kept');
      assert.ok((await driver.exec(s.id, ['env'], { env: { EXTRA: 'e' } })).stdout.split('\n').includes('EXTRA=e'));
      await driver.delete(s.id);
    });

    it('leaves no files once every workload is deleted', async (t) => {
      if (guard(t)) return;
      const s = spec();
      await driver.create(s);
      await driver.delete(s.id);
      assert.equal(existsSync(join(stateDir, 'workloads', s.id)), false);
    });
  });
}
