/**
 * Live snapshots of VM-attached volumes, driver level, with a real QEMU:
 * the volume drivers make the target and record the snapshot, the qemu
 * driver copies the running volume (QMP blockdev-backup). The VM boots
 * nothing (a blank disk: the BIOS finds no boot device and waits), so the
 * test needs no kernel; writes during the copy come through the VM's own
 * virtio device (HMP `qemu-io -d`), i.e. the path guest writes take. The
 * copy is rate-limited so those writes land while the job runs: the
 * snapshot must still hold the bytes of the moment it started.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it, type TestContext } from 'node:test';
import { isYunError } from '../../src/core/errors.ts';
import { FileVolumeDriver } from '../../src/block/drivers/file/driver.ts';
import { Qcow2VolumeDriver } from '../../src/block/drivers/qcow2/driver.ts';
import type { LiveSnapshots, VolumeDriver } from '../../src/block/drivers/types.ts';
import { QemuDriver } from '../../src/compute/drivers/qemu/driver.ts';
import { InstanceFiles } from '../../src/compute/drivers/qemu/instance.ts';
import { withQmp } from '../../src/compute/drivers/qemu/qmp.ts';
import { requireCapability } from '../helpers/capability.ts';
import { pidsMentioning } from './helpers.ts';

const sh = promisify(execFile);
const MIB = 1024 * 1024;
const SIZE = 16 * MIB;
const vmId = 'vm-live-snap';

/** A volume's (or snapshot's) bytes as raw, read while QEMU may hold the file (-U). */
async function bytesOf(path: string, format: 'raw' | 'qcow2', work: string): Promise<Buffer> {
  if (format === 'raw') return readFile(path);
  const out = join(work, `read-${Math.random().toString(36).slice(2)}.raw`);
  await sh('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', path, out]);
  try { return await readFile(out); } finally { await rm(out, { force: true }); }
}

const filled = (ranges: Array<[number, number, number]>) => {
  const b = Buffer.alloc(SIZE);
  for (const [off, len, v] of ranges) b.fill(v, off, off + len);
  return b;
};

describe('live snapshots of volumes attached to a running VM (QMP blockdev-backup)', { timeout: 300_000 }, () => {
  let work = '';
  let q: QemuDriver;
  let reason: string | undefined;
  const ok = (t: TestContext) => requireCapability(t, !reason, reason ?? '');
  const qmp = () => new InstanceFiles(join(work, 'state', 'instances', vmId)).qmpSocket;
  const hmp = (line: string) => withQmp(qmp(), (c) => c.execute<string>('human-monitor-command', { 'command-line': line }));
  const jobs = () => withQmp(qmp(), (c) => c.execute<Array<{ id: string; status: string }>>('query-jobs'));

  before(async () => {
    if (!existsSync('/usr/bin/qemu-system-x86_64') || !existsSync('/usr/bin/qemu-img')) { reason = 'needs qemu-system-x86 and qemu-utils'; return; }
    work = await mkdtemp(join(tmpdir(), 'yun-live-snap-'));
    const image = join(work, 'image');
    await sh('mkdir', ['-p', image]);
    await sh('qemu-img', ['create', '-q', '-f', 'qcow2', join(image, 'blank.qcow2'), '1M']);
    await writeFile(join(image, 'image.json'), JSON.stringify({ disk: 'blank.qcow2' }));
    q = new QemuDriver({ stateDir: join(work, 'state'), accelerator: 'tcg', stopTimeoutMs: 1000 });
    await q.create({ id: vmId, imageRootfs: image, command: [], limits: { cpus: 1, memoryMb: 64 } });
    await q.start(vmId);
  });

  after(async () => {
    if (!work) return;
    await q.delete(vmId).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    assert.deepEqual(await pidsMentioning(work), [], 'no QEMU left behind');
  });

  /**
   * Volume `vol` holds A (0xaa) in [0, 8M) and — for qcow2, in its top layer
   * over an offline snapshot — C (0xcc) in [8M, 12M). While the live copy
   * runs, the VM writes B (0xbb) over [0, 4M) and [12M, 16M).
   */
  async function scenario(d: VolumeDriver & LiveSnapshots, format: 'raw' | 'qcow2', vol: string, write: (off: number, len: number, v: number) => Promise<void>) {
    await d.create(vol, SIZE / (1024 * MIB));
    await write(0, 8 * MIB, 0xaa);
    if (format === 'qcow2') await d.createSnapshot(vol, `${vol}-base`); // the volume continues in an overlay: a live snapshot copies only that (sync=top)
    await write(8 * MIB, 4 * MIB, 0xcc);
    await q.attachVolume(vmId, { volumeId: vol, ...(await d.attachment(vol)) });
    const before = filled([[0, 8 * MIB, 0xaa], [8 * MIB, 4 * MIB, 0xcc]]);

    let sync = '';
    const snap = d.createLiveSnapshot(vol, `${vol}-live`, (target) => {
      sync = target.sync;
      assert.equal(target.format, format);
      assert.equal(target.sizeBytes, SIZE);
      return q.copyVolume(vmId, vol, target, { speedBytesPerSec: 4 * MIB });
    });
    const end = Date.now() + 10_000;
    while (!(await jobs()).some((j) => j.status === 'running') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok((await jobs()).some((j) => j.status === 'running'), 'the copy job runs');
    for (const off of [0, 12 * MIB]) {
      const out = await hmp(`qemu-io -d /machine/peripheral/dev-v${vol}/virtio-backend "write -P 0xbb ${off} ${4 * MIB}"`);
      assert.doesNotMatch(out, /error|fail|not/i, out); // qemu-io answers nothing on success
    }
    assert.ok((await jobs()).some((j) => j.status === 'running'), 'the guest wrote while the copy ran');
    const s = await snap;
    assert.equal(sync, format === 'qcow2' ? 'top' : 'full');
    assert.equal(s.volumeId, vol);
    assert.deepEqual(await jobs(), [], 'job dismissed');

    const snapPath = join(work, format === 'raw' ? 'file' : 'qcow2', 'snapshots', `${vol}-live.${format === 'raw' ? 'img' : 'qcow2'}`);
    assert.ok((await bytesOf(snapPath, format, work)).equals(before), 'the snapshot holds the bytes of the moment it started');
    await hmp(`qemu-io -d /machine/peripheral/dev-v${vol}/virtio-backend "flush"`); // qcow2 metadata QEMU still caches
    const now = filled([[0, 4 * MIB, 0xbb], [4 * MIB, 4 * MIB, 0xaa], [8 * MIB, 4 * MIB, 0xcc], [12 * MIB, 4 * MIB, 0xbb]]);
    assert.ok((await bytesOf((await d.attachment(vol)).path, format, work)).equals(now), 'the volume kept the guest writes');
    await d.create(`${vol}-restored`, SIZE / (1024 * MIB), { fromSnapshot: `${vol}-live` });
    assert.ok((await bytesOf((await d.attachment(`${vol}-restored`)).path, format, work)).equals(before), 'a volume from the live snapshot');
    assert.equal((await d.createLiveSnapshot(vol, `${vol}-live`, () => assert.fail('idempotent by id'))).id, `${vol}-live`);
  }

  it('file volume: sync=full into a sparse raw file', async (t) => {
    if (!ok(t)) return;
    const d = new FileVolumeDriver({ root: join(work, 'file') });
    assert.equal((await d.capabilities()).liveSnapshot, true);
    await scenario(d, 'raw', 'vol-raw', async (off, len, v) => {
      const p = (await d.attachment('vol-raw')).path;
      const fh = await import('node:fs/promises').then((m) => m.open(p, 'r+'));
      try { await fh.write(Buffer.alloc(len, v), 0, len, off); } finally { await fh.close(); }
    });
    const s = await d.inspectSnapshot('vol-raw-live');
    assert.ok(s && s.allocatedBytes < SIZE, `the snapshot stays sparse (${s?.allocatedBytes} bytes allocated)`);
  });

  it('qcow2 volume over a frozen snapshot: sync=top into a file backed by the same snapshot', async (t) => {
    if (!ok(t)) return;
    const d = new Qcow2VolumeDriver({ root: join(work, 'qcow2') });
    await scenario(d, 'qcow2', 'vol-q', (off, len, v) => sh('qemu-io', ['-f', 'qcow2', '-c', `write -P ${v} ${off} ${len}`, join(work, 'qcow2', 'volumes', 'vol-q.qcow2')]).then(() => undefined));
    const info = JSON.parse((await sh('qemu-img', ['info', '--output=json', join(work, 'qcow2', 'snapshots', 'vol-q-live.qcow2')])).stdout) as { 'full-backing-filename'?: string };
    assert.equal(info['full-backing-filename'], join(work, 'qcow2', 'snapshots', 'vol-q-base.qcow2'), 'a chain member like any snapshot');
  });

  it('refuses volumes that are not attached or VMs that are stopped; a failed copy leaves nothing', async (t) => {
    if (!ok(t)) return;
    const d = new FileVolumeDriver({ root: join(work, 'file') });
    await d.create('vol-loose', 1 / 1024);
    const copy = (target: Parameters<QemuDriver['copyVolume']>[2]) => q.copyVolume(vmId, 'vol-loose', target);
    await assert.rejects(d.createLiveSnapshot('vol-loose', 'never', copy), (e) => isYunError(e) && e.code === 'NotFound');
    assert.equal(await d.inspectSnapshot('never'), undefined);
    assert.deepEqual((await readdir(join(work, 'file', 'snapshots'))).filter((n) => n.startsWith('.tmp')), [], 'no temp file left');
    await q.stop(vmId, { timeoutMs: 500 });
    await assert.rejects(q.copyVolume(vmId, 'vol-raw', { path: join(work, 'x.img'), format: 'raw', sync: 'full' }), (e) => isYunError(e) && e.code === 'InvalidState');
  });
});
