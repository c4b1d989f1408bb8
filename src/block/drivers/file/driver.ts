/**
 * The file volume driver: each volume is a sparse raw file.
 *
 * What it cannot do: no live snapshot by itself (a snapshot of a volume a
 * running VM writes to goes through the VM's hypervisor, `createLiveSnapshot`,
 * and is crash-consistent), no live extend seen by a running guest, no thin
 * clones without reflink support (on filesystems without reflink a snapshot
 * or a volume from a snapshot is a full — still sparse — copy).
 *
 * Layout: `<root>/volumes/<id>.img`, `<root>/snapshots/<id>.img` with
 * `<id>.json` beside it (source volume, time).
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const PUNCH_HOLES = fileURLToPath(new URL('./punch-holes.pl', import.meta.url));

export interface FileVolumeDriverOptions {
  /** Root of the driver's files, e.g. `/var/lib/yun/block/file`. */
  root: string;
}

interface SnapshotMeta {
  volumeId: string;
  createdAt: string;
}

export class FileVolumeDriver implements VolumeDriver, LiveSnapshots {
  readonly name = 'file';
  private readonly serial = new KeyedSerial();

  constructor(private readonly opts: FileVolumeDriverOptions) {}

  private vol(id: string) { checkId('volume', id); return join(this.opts.root, 'volumes', `${id}.img`); }
  private snap(id: string) { checkId('snapshot', id); return join(this.opts.root, 'snapshots', `${id}.img`); }
  private snapMeta(id: string) { return join(this.opts.root, 'snapshots', `${id}.json`); }

  async capabilities(): Promise<VolumeCapabilities> {
    return {
      available: true,
      backend: 'file (sparse raw)',
      format: 'raw',
      snapshotMethod: (await this.reflinkWorks()) ? 'reflink' : 'copy',
      liveSnapshot: true,
      liveExtend: false,
      containerMount: true,
    };
  }

  private reflink?: Promise<boolean>;
  private reflinkWorks(): Promise<boolean> {
    this.reflink ??= (async () => {
      const dir = join(this.opts.root, 'tmp');
      await mkdir(dir, { recursive: true });
      const a = join(dir, `.reflink-${randomToken(6)}`);
      try {
        await (await open(a, 'w')).close();
        await runTool('cp', ['--reflink=always', a, `${a}.b`]);
        return true;
      } catch {
        return false;
      } finally {
        await rm(a, { force: true });
        await rm(`${a}.b`, { force: true });
      }
    })();
    return this.reflink;
  }

  /** Copy keeping holes, sharing extents where the filesystem can (btrfs, xfs). */
  private async copy(src: string, dst: string): Promise<void> {
    await runTool('cp', ['--reflink=auto', '--sparse=always', src, dst]);
  }

  private async info(id: string, path: string): Promise<VolumeInfo> {
    const st = await stat(path);
    return { id, sizeGb: bytesToGb(st.size), virtualBytes: st.size, allocatedBytes: st.blocks * 512, format: 'raw' };
  }

  async create(id: string, sizeGb: number, opts: CreateVolumeOptions = {}): Promise<VolumeInfo> {
    const path = this.vol(id);
    checkSize(sizeGb);
    return this.serial.run(id, async () => {
      if (existsSync(path)) return this.info(id, path);
      const bytes = gbToBytes(sizeGb);
      await mkdir(join(this.opts.root, 'volumes'), { recursive: true });
      const tmp = join(this.opts.root, 'volumes', `.tmp-${id}-${randomToken(6)}`);
      try {
        if (opts.fromSnapshot) {
          const src = this.snap(opts.fromSnapshot);
          const st = await stat(src).catch(() => undefined);
          if (!st) throw notFound('snapshot', opts.fromSnapshot);
          if (bytes < st.size) throw invalid('/sizeGb', `sizeGb must be at least the snapshot's ${bytesToGb(st.size)} GiB`);
          await this.copy(src, tmp);
        } else {
          await (await open(tmp, 'wx')).close();
        }
        const fh = await open(tmp, 'r+');
        try {
          await fh.truncate(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
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
    return this.serial.run(id, () => rm(path, { force: true }));
  }

  async extend(id: string, sizeGb: number): Promise<VolumeInfo> {
    const path = this.vol(id);
    checkSize(sizeGb);
    return this.serial.run(id, async () => {
      const st = await stat(path).catch(() => undefined);
      if (!st) throw notFound('volume', id);
      const bytes = gbToBytes(sizeGb);
      if (bytes < st.size) throw new YunError('ValidationFailed', `volume ${id} is ${bytesToGb(st.size)} GiB; volumes only grow`, { field: '/sizeGb' });
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(bytes);
      } finally {
        await fh.close();
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
    for (const n of names.filter((x) => x.endsWith('.img') && !x.startsWith('.')).sort()) {
      const v = await this.inspect(n.slice(0, -4)).catch(() => undefined);
      if (v) out.push(v);
    }
    return out;
  }

  async createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo> {
    return this.snapshotInto(volumeId, snapshotId, (src, tmp) => this.copy(src, tmp));
  }

  /** The hypervisor copies the running volume into a sparse raw file of the same size. */
  async createLiveSnapshot(volumeId: string, snapshotId: string, copy: LiveCopier): Promise<SnapshotInfo> {
    return this.snapshotInto(volumeId, snapshotId, async (src, tmp) => {
      const { size } = await stat(src);
      const fh = await open(tmp, 'wx');
      try {
        await fh.truncate(size);
      } finally {
        await fh.close();
      }
      await copy({ path: tmp, format: 'raw', sizeBytes: size, sync: 'full' });
      // as sparse as cp --sparse=always: QEMU writes the volume's holes as allocated zero ranges, and zero blocks as data
      await runTool('perl', [PUNCH_HOLES, tmp]);
      await runTool('fallocate', ['--dig-holes', tmp]);
    });
  }

  /** Fills a temp file with `fill`, records the snapshot, then renames it into place; a failure leaves nothing. */
  private async snapshotInto(volumeId: string, snapshotId: string, fill: (src: string, tmp: string) => Promise<void>): Promise<SnapshotInfo> {
    const src = this.vol(volumeId);
    const dst = this.snap(snapshotId);
    return this.serial.run(volumeId, async () => {
      if (existsSync(dst)) return this.mustSnapshot(snapshotId);
      if (!existsSync(src)) throw notFound('volume', volumeId);
      await mkdir(join(this.opts.root, 'snapshots'), { recursive: true });
      const tmp = join(this.opts.root, 'snapshots', `.tmp-${snapshotId}-${randomToken(6)}`);
      try {
        await fill(src, tmp);
        await writeJsonAtomic(this.snapMeta(snapshotId), { volumeId, createdAt: new Date().toISOString() } satisfies SnapshotMeta);
        await rename(tmp, dst);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
      return this.mustSnapshot(snapshotId);
    });
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await rm(this.snap(snapshotId), { force: true });
    await rm(this.snapMeta(snapshotId), { force: true });
  }

  private async mustSnapshot(snapshotId: string): Promise<SnapshotInfo> {
    const s = await this.inspectSnapshot(snapshotId);
    if (!s) throw new YunError('Internal', `snapshot ${snapshotId} vanished while being made`);
    return s;
  }

  async inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined> {
    const path = this.snap(snapshotId);
    const st = await stat(path).catch(() => undefined);
    if (!st) return undefined;
    const meta = (await readJsonFile<SnapshotMeta>(this.snapMeta(snapshotId))) ?? { volumeId: '', createdAt: st.mtime.toISOString() };
    return { id: snapshotId, volumeId: meta.volumeId, sizeGb: bytesToGb(st.size), virtualBytes: st.size, allocatedBytes: st.blocks * 512, createdAt: meta.createdAt };
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    const names = await readdir(join(this.opts.root, 'snapshots')).catch(() => [] as string[]);
    const out: SnapshotInfo[] = [];
    for (const n of names.filter((x) => x.endsWith('.img') && !x.startsWith('.')).sort()) {
      const s = await this.inspectSnapshot(n.slice(0, -4));
      if (s) out.push(s);
    }
    return out;
  }

  async attachment(id: string): Promise<VolumeAttachmentInfo> {
    const path = this.vol(id);
    if (!existsSync(path)) throw notFound('volume', id);
    return { path, format: 'raw' };
  }
}
