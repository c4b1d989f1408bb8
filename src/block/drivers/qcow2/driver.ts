/**
 * The qcow2 volume driver: each volume is a qcow2 file made with qemu-img.
 *
 * Snapshots are BACKING-FILE CHAINS, not qcow2 internal snapshots: a
 * snapshot freezes the volume's current file as `snapshots/<snap>.qcow2`
 * and the volume continues in a new thin overlay on top of it; a volume made
 * from a snapshot is another overlay on the same frozen file. So snapshots
 * are O(1), outlive their volume, and clones are thin. Internal snapshots
 * were rejected because they live inside the volume's file (deleting the
 * volume would delete them) and cannot seed another volume without a copy.
 * Deleting a snapshot first rebases every file backed by it onto the
 * snapshot's own backing file (`qemu-img rebase`, which copies the
 * differing clusters), so no file ever loses its data.
 *
 * A snapshot of a volume a running VM holds open (`createLiveSnapshot`)
 * cannot rename the file under QEMU; instead QEMU copies the volume's own
 * layer as of one instant (QMP blockdev-backup, sync=top) into a new file
 * backed by the volume's backing file. So it is a chain member like any
 * other snapshot (shares the frozen parents, rebased on their deletion),
 * but costs a copy of the volume's top layer instead of O(1). The
 * alternative, QMP blockdev-snapshot (a new overlay under QEMU), would
 * leave QEMU holding the frozen file under the volume's old path and make
 * the attached node change names.
 *
 * What it cannot do: offline snapshot, extend or snapshot-delete a volume
 * that a running VM holds open (QEMU's image lock makes these fail with
 * `InvalidState`; extend goes through QMP block_resize, snapshots through
 * `createLiveSnapshot`); loop-mount for containers (qcow2 is not a raw block
 * image; attach qcow2 volumes to VMs only); moving the root directory breaks
 * chains (backing paths are absolute).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { YunError, invalid, notFound } from '../../../core/errors.ts';
import { randomToken } from '../../../core/ids.ts';
import { KeyedSerial, checkId, checkSize, readJsonFile, runTool, writeJsonAtomic } from '../common.ts';
import {
  type CreateVolumeOptions,
  type LiveCopier,
  type LiveSnapshots,
  type SnapshotInfo,
  type VolumeAttachmentInfo,
  type VolumeCapabilities,
  type VolumeDriver,
  type VolumeInfo,
  bytesToGb,
  gbToBytes,
} from '../types.ts';

export interface Qcow2VolumeDriverOptions {
  root: string;
  /** Default `qemu-img`. */
  qemuImg?: string;
}

interface ImgInfo {
  'virtual-size': number;
  'actual-size'?: number;
  format: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
}

/**
 * One lock for every change in this driver: creates from snapshots, snapshots
 * and snapshot deletes rewrite backing links across files, so they must not
 * interleave (a clone made while its snapshot is being deleted would lose
 * its backing file).
 */
const CHAIN = 'chain';

interface SnapshotMeta {
  volumeId: string;
  createdAt: string;
}

export class Qcow2VolumeDriver implements VolumeDriver, LiveSnapshots {
  readonly name = 'qcow2';
  private readonly serial = new KeyedSerial();
  private readonly qemuImg: string;

  constructor(private readonly opts: Qcow2VolumeDriverOptions) {
    this.qemuImg = opts.qemuImg ?? 'qemu-img';
  }

  private vol(id: string) { checkId('volume', id); return join(this.opts.root, 'volumes', `${id}.qcow2`); }
  private snap(id: string) { checkId('snapshot', id); return join(this.opts.root, 'snapshots', `${id}.qcow2`); }
  private snapMeta(id: string) { return join(this.opts.root, 'snapshots', `${id}.json`); }

  async capabilities(): Promise<VolumeCapabilities> {
    let version: string | undefined;
    try {
      version = /version\s+(\S+)/.exec(await runTool(this.qemuImg, ['--version']))?.[1];
    } catch {
      version = undefined;
    }
    return {
      available: !!version,
      ...(version ? {} : { reason: `${this.qemuImg} not found (Debian: qemu-utils)` }),
      backend: `qcow2 (qemu-img ${version ?? '?'})`,
      format: 'qcow2',
      snapshotMethod: 'backing-chain',
      liveSnapshot: true,
      liveExtend: false,
      containerMount: false,
    };
  }

  /** `qemu-img info`. Without `-U` it fails when a running QEMU holds the write lock; `shared` reads anyway. */
  private async imgInfo(path: string, shared = true): Promise<ImgInfo> {
    return JSON.parse(await runTool(this.qemuImg, ['info', '--output=json', ...(shared ? ['-U'] : []), path])) as ImgInfo;
  }

  /** Throws `InvalidState` when a running QEMU has the image open for writing. */
  private async assertNotInUse(path: string, what: string): Promise<void> {
    try {
      await this.imgInfo(path, false);
    } catch (e) {
      if (/lock/i.test((e as Error).message)) throw new YunError('InvalidState', `${what} is in use by a running VM; detach it or stop the VM first`);
      throw e;
    }
  }

  private async info(id: string, path: string): Promise<VolumeInfo> {
    const i = await this.imgInfo(path);
    const st = await stat(path);
    return { id, sizeGb: bytesToGb(i['virtual-size']), virtualBytes: i['virtual-size'], allocatedBytes: st.blocks * 512, format: 'qcow2' };
  }

  async create(id: string, sizeGb: number, opts: CreateVolumeOptions = {}): Promise<VolumeInfo> {
    const path = this.vol(id);
    checkSize(sizeGb);
    return this.serial.run(CHAIN, async () => {
      if (existsSync(path)) return this.info(id, path);
      const bytes = gbToBytes(sizeGb);
      await mkdir(join(this.opts.root, 'volumes'), { recursive: true });
      const tmp = join(this.opts.root, 'volumes', `.tmp-${id}-${randomToken(6)}.qcow2`);
      const args = ['create', '-q', '-f', 'qcow2'];
      if (opts.fromSnapshot) {
        const src = this.snap(opts.fromSnapshot);
        if (!existsSync(src)) throw notFound('snapshot', opts.fromSnapshot);
        const si = await this.imgInfo(src);
        if (bytes < si['virtual-size']) throw invalid('/sizeGb', `sizeGb must be at least the snapshot's ${bytesToGb(si['virtual-size'])} GiB`);
        args.push('-F', 'qcow2', '-b', src);
      }
      try {
        await runTool(this.qemuImg, [...args, tmp, String(bytes)]);
        await rename(tmp, path);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
      return this.info(id, path);
    });
  }

  async delete(id: string): Promise<void> {
    const path = this.vol(id);
    return this.serial.run(CHAIN, () => rm(path, { force: true }));
  }

  async extend(id: string, sizeGb: number): Promise<VolumeInfo> {
    const path = this.vol(id);
    checkSize(sizeGb);
    return this.serial.run(CHAIN, async () => {
      if (!existsSync(path)) throw notFound('volume', id);
      const cur = await this.imgInfo(path);
      const bytes = gbToBytes(sizeGb);
      if (bytes < cur['virtual-size']) throw invalid('/sizeGb', `volume ${id} is ${bytesToGb(cur['virtual-size'])} GiB; volumes only grow`);
      if (bytes > cur['virtual-size']) {
        await this.assertNotInUse(path, `volume ${id}`);
        await runTool(this.qemuImg, ['resize', '-q', '-f', 'qcow2', path, String(bytes)]);
      }
      return this.info(id, path);
    });
  }

  async inspect(id: string): Promise<VolumeInfo | undefined> {
    const path = this.vol(id);
    return existsSync(path) ? this.info(id, path) : undefined;
  }

  async list(): Promise<VolumeInfo[]> {
    const names = await readdir(join(this.opts.root, 'volumes')).catch(() => [] as string[]);
    const out: VolumeInfo[] = [];
    for (const n of names.filter((x) => x.endsWith('.qcow2') && !x.startsWith('.')).sort()) {
      const v = await this.inspect(n.slice(0, -'.qcow2'.length)).catch(() => undefined);
      if (v) out.push(v);
    }
    return out;
  }

  /**
   * Freeze: rename the volume file to the snapshot name, then put a new
   * overlay (backed by it) under the volume's name. If making the overlay
   * fails the rename is undone, so the volume is never missing.
   */
  async createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    const path = this.vol(volumeId);
    const dst = this.snap(snapshotId);
    return this.serial.run(CHAIN, async () => {
      if (existsSync(dst)) return this.mustSnapshot(snapshotId);
      if (!existsSync(path)) throw notFound('volume', volumeId);
      await this.assertNotInUse(path, `volume ${volumeId}`);
      const size = (await this.imgInfo(path))['virtual-size'];
      await mkdir(join(this.opts.root, 'snapshots'), { recursive: true });
      await writeJsonAtomic(this.snapMeta(snapshotId), { volumeId, createdAt: new Date().toISOString() } satisfies SnapshotMeta);
      const overlay = join(this.opts.root, 'volumes', `.tmp-${volumeId}-${randomToken(6)}.qcow2`);
      await rename(path, dst);
      try {
        await runTool(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', dst, overlay, String(size)]);
        await rename(overlay, path);
      } catch (e) {
        await rm(overlay, { force: true });
        await rename(dst, path);
        await rm(this.snapMeta(snapshotId), { force: true });
        throw e;
      }
      return this.mustSnapshot(snapshotId);
    });
  }

  /**
   * Live: the snapshot is a new file backed by the volume's backing file (if
   * any), into which the hypervisor copies the volume's own layer as of one
   * instant. The volume's file is not touched.
   */
  async createLiveSnapshot(volumeId: string, snapshotId: string, copy: LiveCopier): Promise<SnapshotInfo> {
    const path = this.vol(volumeId);
    const dst = this.snap(snapshotId);
    return this.serial.run(CHAIN, async () => {
      if (existsSync(dst)) return this.mustSnapshot(snapshotId);
      if (!existsSync(path)) throw notFound('volume', volumeId);
      const info = await this.imgInfo(path);
      const backing = info['full-backing-filename'] ?? info['backing-filename'];
      const size = info['virtual-size'];
      await mkdir(join(this.opts.root, 'snapshots'), { recursive: true });
      const tmp = join(this.opts.root, 'snapshots', `.tmp-${snapshotId}-${randomToken(6)}.qcow2`);
      try {
        // -u: the backing file is open in QEMU (read-only); it need not be opened to make the target
        await runTool(this.qemuImg, ['create', '-q', '-f', 'qcow2', ...(backing ? ['-F', 'qcow2', '-b', backing, '-u'] : []), tmp, String(size)]);
        await writeJsonAtomic(this.snapMeta(snapshotId), { volumeId, createdAt: new Date().toISOString() } satisfies SnapshotMeta);
        await copy({ path: tmp, format: 'qcow2', sizeBytes: size, sync: backing ? 'top' : 'full' });
        await rename(tmp, dst);
      } catch (e) {
        await rm(tmp, { force: true });
        await rm(this.snapMeta(snapshotId), { force: true });
        throw e;
      }
      return this.mustSnapshot(snapshotId);
    });
  }

  /** Every volume and snapshot file whose backing file is `path`. */
  private async childrenOf(path: string): Promise<string[]> {
    const out: string[] = [];
    for (const sub of ['volumes', 'snapshots']) {
      const dir = join(this.opts.root, sub);
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        if (!n.endsWith('.qcow2') || n.startsWith('.')) continue;
        const p = join(dir, n);
        const i = await this.imgInfo(p);
        if ((i['full-backing-filename'] ?? i['backing-filename']) === path) out.push(p);
      }
    }
    return out;
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    const path = this.snap(snapshotId);
    return this.serial.run(CHAIN, async () => {
      if (!existsSync(path)) return void (await rm(this.snapMeta(snapshotId), { force: true }));
      const own = await this.imgInfo(path);
      const parent = own['full-backing-filename'] ?? own['backing-filename'];
      for (const child of await this.childrenOf(path)) {
        await this.assertNotInUse(child, `a volume backed by snapshot ${snapshotId}`);
        // safe-mode rebase: copies every cluster that differs between old and new backing into the child
        const args = ['rebase', '-q', '-f', 'qcow2', '-b', parent ?? '', ...(parent ? ['-F', 'qcow2'] : []), child];
        await runTool(this.qemuImg, args);
      }
      await rm(path, { force: true });
      await rm(this.snapMeta(snapshotId), { force: true });
    });
  }

  private async mustSnapshot(snapshotId: string): Promise<SnapshotInfo> {
    const s = await this.inspectSnapshot(snapshotId);
    if (!s) throw new YunError('Internal', `snapshot ${snapshotId} vanished while being made`);
    return s;
  }

  async inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined> {
    const path = this.snap(snapshotId);
    if (!existsSync(path)) return undefined;
    const i = await this.imgInfo(path);
    const st = await stat(path);
    const meta = (await readJsonFile<SnapshotMeta>(this.snapMeta(snapshotId))) ?? { volumeId: '', createdAt: st.mtime.toISOString() };
    return {
      id: snapshotId,
      volumeId: meta.volumeId,
      sizeGb: bytesToGb(i['virtual-size']),
      virtualBytes: i['virtual-size'],
      allocatedBytes: st.blocks * 512,
      createdAt: meta.createdAt,
    };
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    const names = await readdir(join(this.opts.root, 'snapshots')).catch(() => [] as string[]);
    const out: SnapshotInfo[] = [];
    for (const n of names.filter((x) => x.endsWith('.qcow2') && !x.startsWith('.')).sort()) {
      const s = await this.inspectSnapshot(n.slice(0, -'.qcow2'.length));
      if (s) out.push(s);
    }
    return out;
  }

  async attachment(id: string): Promise<VolumeAttachmentInfo> {
    const path = this.vol(id);
    if (!existsSync(path)) throw notFound('volume', id);
    return { path, format: 'qcow2' };
  }
}
