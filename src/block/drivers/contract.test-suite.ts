/**
 * The shared contract every VolumeDriver passes; each driver's test file
 * calls `volumeDriverContract(...)`. Sizes are kept small (tens of MiB) so
 * the suite runs in seconds; bytes are checked with real reads.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isYunError } from '../../core/errors.ts';
import { requireCapability } from '../../../test/helpers/capability.ts';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { type VolumeDriver, hasLiveSnapshots } from './types.ts';

export interface VolumeContractTarget {
  name: string;
  make(root: string): VolumeDriver;
  /** Writes `data` at byte `offset` of the volume (through qemu-io/dd for the format). */
  write(driver: VolumeDriver, id: string, offset: number, data: Buffer): Promise<void>;
  /** Reads `length` bytes at `offset`. */
  read(driver: VolumeDriver, id: string, offset: number, length: number): Promise<Buffer>;
}

const MB = 1 / 1024; // GiB per MiB

export function volumeDriverContract(target: VolumeContractTarget): void {
  describe(`VolumeDriver contract: ${target.name}`, () => {
    let root = '';
    let d: VolumeDriver;
    let reason: string | undefined;
    const ok = (t: TestContext) => requireCapability(t, !reason, reason ?? '');

    before(async () => {
      root = await mkdtemp(join(tmpdir(), `yun-vol-${target.name}-`));
      d = target.make(root);
      const caps = await d.capabilities();
      if (!caps.available) reason = caps.reason;
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('create makes a zeroed volume of the asked size; create again is a no-op', async (t) => {
      if (!ok(t)) return;
      const v = await d.create('vol-a', 16 * MB);
      assert.equal(v.virtualBytes, 16 * 1024 * 1024);
      assert.equal(v.format, (await d.capabilities()).format);
      assert.ok(v.allocatedBytes < v.virtualBytes, 'volumes are thin');
      assert.deepEqual(await target.read(d, 'vol-a', 1024 * 1024, 4096), Buffer.alloc(4096));
      await target.write(d, 'vol-a', 0, Buffer.from('first'));
      const again = await d.create('vol-a', 32 * MB);
      assert.equal(again.virtualBytes, 16 * 1024 * 1024, 'first create wins');
      assert.equal((await target.read(d, 'vol-a', 0, 5)).toString(), 'first');
      assert.deepEqual((await d.list()).map((x) => x.id), ['vol-a']);
      assert.equal((await d.attachment('vol-a')).format, v.format);
    });

    it('delete removes; deleting a missing volume succeeds; unknown ids are NotFound', async (t) => {
      if (!ok(t)) return;
      await d.create('vol-del', 8 * MB);
      await d.delete('vol-del');
      assert.equal(await d.inspect('vol-del'), undefined);
      await d.delete('vol-del');
      await d.delete('never-was');
      await assert.rejects(d.extend('never-was', 1), (e) => isYunError(e) && e.code === 'NotFound');
      await assert.rejects(d.attachment('never-was'), (e) => isYunError(e) && e.code === 'NotFound');
      await assert.rejects(d.create('Bad_Id', 1), (e) => isYunError(e) && e.code === 'ValidationFailed');
      await assert.rejects(d.create('vol-z', 0), (e) => isYunError(e) && e.code === 'ValidationFailed');
    });

    it('extend grows and keeps data; shrinking is refused', async (t) => {
      if (!ok(t)) return;
      await d.create('vol-ext', 8 * MB);
      await target.write(d, 'vol-ext', 4096, Buffer.from('keep-me'));
      const v = await d.extend('vol-ext', 24 * MB);
      assert.equal(v.virtualBytes, 24 * 1024 * 1024);
      assert.equal((await target.read(d, 'vol-ext', 4096, 7)).toString(), 'keep-me');
      assert.deepEqual(await target.read(d, 'vol-ext', 20 * 1024 * 1024, 512), Buffer.alloc(512));
      await assert.rejects(d.extend('vol-ext', 4 * MB), (e) => isYunError(e) && e.code === 'ValidationFailed');
    });

    it('snapshot -> new volume has the same bytes; later writes do not leak either way', async (t) => {
      if (!ok(t)) return;
      const data = randomBytes(256 * 1024);
      await d.create('vol-src', 16 * MB);
      await target.write(d, 'vol-src', 1024 * 1024, data);
      const s = await d.createSnapshot('vol-src', 'snap-1');
      assert.equal(s.volumeId, 'vol-src');
      assert.equal(s.virtualBytes, 16 * 1024 * 1024);
      assert.equal((await d.createSnapshot('vol-src', 'snap-1')).id, 'snap-1', 'idempotent');
      await target.write(d, 'vol-src', 1024 * 1024, Buffer.from('after-snapshot'));
      const c = await d.create('vol-clone', 16 * MB, { fromSnapshot: 'snap-1' });
      assert.equal(c.virtualBytes, 16 * 1024 * 1024);
      assert.deepEqual(await target.read(d, 'vol-clone', 1024 * 1024, data.length), data);
      await target.write(d, 'vol-clone', 0, Buffer.from('clone-only'));
      assert.notEqual((await target.read(d, 'vol-src', 0, 10)).toString(), 'clone-only');
      assert.equal((await target.read(d, 'vol-src', 1024 * 1024, 14)).toString(), 'after-snapshot');
      await assert.rejects(d.create('vol-small', 8 * MB, { fromSnapshot: 'snap-1' }), (e) => isYunError(e) && e.code === 'ValidationFailed');
      await assert.rejects(d.create('vol-x', 16 * MB, { fromSnapshot: 'no-such-snap' }), (e) => isYunError(e) && e.code === 'NotFound');
      // a bigger volume from a snapshot
      const big = await d.create('vol-big', 32 * MB, { fromSnapshot: 'snap-1' });
      assert.equal(big.virtualBytes, 32 * 1024 * 1024);
      assert.deepEqual(await target.read(d, 'vol-big', 1024 * 1024, data.length), data);
    });

    it('snapshots outlive their volume; deleting a snapshot keeps clones intact', async (t) => {
      if (!ok(t)) return;
      const data = randomBytes(64 * 1024);
      await d.create('vol-life', 8 * MB);
      await target.write(d, 'vol-life', 8192, data);
      await d.createSnapshot('vol-life', 'snap-a');
      await target.write(d, 'vol-life', 0, Buffer.from('between'));
      await d.createSnapshot('vol-life', 'snap-b');
      await d.delete('vol-life');
      const fromB = await d.create('vol-from-b', 8 * MB, { fromSnapshot: 'snap-b' });
      assert.ok(fromB);
      await d.deleteSnapshot('snap-a');
      await d.deleteSnapshot('snap-a');
      assert.equal(await d.inspectSnapshot('snap-a'), undefined);
      assert.deepEqual(await target.read(d, 'vol-from-b', 8192, data.length), data);
      assert.equal((await target.read(d, 'vol-from-b', 0, 7)).toString(), 'between');
      await d.deleteSnapshot('snap-b');
      assert.deepEqual(await target.read(d, 'vol-from-b', 8192, data.length), data);
      assert.equal((await target.read(d, 'vol-from-b', 0, 7)).toString(), 'between');
      assert.ok(!(await d.listSnapshots()).some((s) => s.id === 'snap-b'));
    });

    it('live snapshots: the copier gets a ready target file; a failed copy leaves no snapshot and no file', async (t) => {
      if (!ok(t)) return;
      if (!hasLiveSnapshots(d)) {
        assert.equal((await d.capabilities()).liveSnapshot, false, 'liveSnapshot is true only with the LiveSnapshots ability');
        return;
      }
      assert.equal((await d.capabilities()).liveSnapshot, true);
      await d.create('vol-live', 8 * MB);
      await assert.rejects(d.createLiveSnapshot('vol-live', 'snap-live', async (target) => {
        assert.ok(existsSync(target.path), 'the target exists before the copy');
        assert.equal(target.format, (await d.capabilities()).format);
        assert.equal(target.sizeBytes, 8 * 1024 * 1024);
        assert.ok(['full', 'top'].includes(target.sync));
        throw new Error('hypervisor gone');
      }), /hypervisor gone/);
      assert.equal(await d.inspectSnapshot('snap-live'), undefined);
      assert.deepEqual((await readdir(root, { recursive: true })).filter((n) => /snap-live|\.tmp-/.test(n)), [], 'nothing left behind');
      await assert.rejects(d.createLiveSnapshot('no-such-vol', 'snap-x', async () => undefined), (e) => isYunError(e) && e.code === 'NotFound');
    });
  });
}
