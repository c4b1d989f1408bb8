/**
 * The volume driver contract: block volumes and their snapshots on ONE host,
 * as files the compute drivers attach (QEMU as virtio disks, containers
 * through a loop-mounted filesystem, see `mount.ts`).
 *
 * Rules every implementation follows (the shared suite in
 * `contract.test-suite.ts` checks them):
 * - Volumes and snapshots are named by yun ids (DNS labels); backend file
 *   names never leave the driver except as `attachment().path`.
 * - `create` is atomic: the volume appears complete or not at all (made
 *   under a temp name, then renamed). Creating an existing id is a no-op
 *   returning the existing volume (the first create wins).
 * - Deleting a missing volume or snapshot succeeds.
 * - Snapshots are independent of their volume's life: deleting the volume
 *   keeps its snapshots usable, and a volume made from a snapshot is
 *   unaffected by the snapshot's later deletion.
 * - Sizes are GiB (2^30 bytes); fractional values are allowed and rounded
 *   up to whole MiB. Volumes only grow: `extend` to a smaller size fails.
 * - A volume's bytes are read back exactly: a new volume from a snapshot
 *   holds the bytes the volume held when the snapshot was taken.
 * - Errors are `YunError`s: `NotFound` (unknown volume/snapshot, except for
 *   delete and inspect), `ValidationFailed` (bad id or size), `InvalidState`
 *   (e.g. a qcow2 volume held open by a running VM), `DriverFailed` (a host
 *   tool failed; its stderr is in the message).
 */

export type VolumeFormat = 'raw' | 'qcow2';

export interface VolumeInfo {
  id: string;
  /** Virtual size in GiB. */
  sizeGb: number;
  virtualBytes: number;
  /** Bytes really used on the host disk (volumes are thin). */
  allocatedBytes: number;
  format: VolumeFormat;
}

export interface SnapshotInfo {
  id: string;
  /** Volume it was taken from (it may have been deleted since). */
  volumeId: string;
  sizeGb: number;
  virtualBytes: number;
  allocatedBytes: number;
  createdAt: string;
}

/** How a compute driver attaches a volume. */
export interface VolumeAttachmentInfo {
  /** Absolute host path of the file to hand to QEMU or to loop-mount. */
  path: string;
  format: VolumeFormat;
}

/** What this driver can do on this host. Plain data (scheduler, `yun doctor`). */
export interface VolumeCapabilities {
  available: boolean;
  reason?: string;
  /** e.g. `file (sparse raw)`, `qcow2 (qemu-img 7.2.x)`. */
  backend: string;
  format: VolumeFormat;
  /** How snapshots are made. */
  snapshotMethod: 'reflink' | 'copy' | 'backing-chain';
  /** Snapshots of a volume a RUNNING VM holds open, crash-consistent, through the VM's hypervisor (`LiveSnapshots`). */
  liveSnapshot: boolean;
  /** Volumes can be extended while a VM holds them open. */
  liveExtend: boolean;
  /** Volumes can be loop-mounted for containers (`mount.ts`); raw only. */
  containerMount: boolean;
}

export interface CreateVolumeOptions {
  /** Fill the new volume with this snapshot's bytes; `sizeGb` must be ≥ the snapshot's size. */
  fromSnapshot?: string;
}

export interface VolumeDriver {
  /** Registry name: `file`, `qcow2`. */
  readonly name: string;

  capabilities(): Promise<VolumeCapabilities>;

  /** Make a zero-filled (or snapshot-filled) volume of `sizeGb`. Atomic; idempotent by id. */
  create(id: string, sizeGb: number, opts?: CreateVolumeOptions): Promise<VolumeInfo>;

  /** Remove the volume's bytes. Its snapshots stay. Deleting a missing id succeeds. */
  delete(id: string): Promise<void>;

  /** Grow the volume to `sizeGb` (the filesystem inside is not resized; see `growFilesystem`). */
  extend(id: string, sizeGb: number): Promise<VolumeInfo>;

  /** `undefined` if the volume does not exist. */
  inspect(id: string): Promise<VolumeInfo | undefined>;

  list(): Promise<VolumeInfo[]>;

  /**
   * Freeze the volume's current bytes as snapshot `snapshotId`. The volume
   * must not be in use by a running VM (see `LiveSnapshots` for that).
   * Idempotent by id.
   */
  createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo>;

  /** Remove a snapshot; volumes made from it keep their bytes. Deleting a missing id succeeds. */
  deleteSnapshot(snapshotId: string): Promise<void>;

  /** `undefined` if the snapshot does not exist. */
  inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | undefined>;

  listSnapshots(): Promise<SnapshotInfo[]>;

  /** Where a compute driver finds the volume. Throws `NotFound`. */
  attachment(id: string): Promise<VolumeAttachmentInfo>;
}

/** A file the volume driver made for a hypervisor to copy a running volume into. */
export interface LiveSnapshotTarget {
  /** Absolute host path; already has the format, the virtual size and (for `top`) the backing file. */
  path: string;
  format: VolumeFormat;
  /** Virtual size in bytes: the volume's. */
  sizeBytes: number;
  /**
   * `full`: copy every block of the volume. `top`: copy only what the
   * volume's own file holds; the target's backing file (the volume's
   * backing file, which never changes) supplies the rest.
   */
  sync: 'full' | 'top';
}

/**
 * Writes into `target` the volume's bytes as of the moment the copy starts
 * (blocks the guest writes afterwards are copied out first), and returns
 * once the copy is complete and flushed. E.g. QMP blockdev-backup.
 */
export type LiveCopier = (target: LiveSnapshotTarget) => Promise<void>;

/**
 * Optional ability: snapshots of a volume that a running VM holds open and
 * writes to. The driver makes the target file and records the snapshot;
 * the hypervisor that holds the volume does the point-in-time copy. The
 * result is crash-consistent (what the disk held at one instant; the
 * guest's unflushed caches are not in it). The volume's file and chain are
 * left as they are. Idempotent by id; a failed copy leaves no snapshot.
 */
export interface LiveSnapshots {
  createLiveSnapshot(volumeId: string, snapshotId: string, copy: LiveCopier): Promise<SnapshotInfo>;
}

export function hasLiveSnapshots(d: VolumeDriver): d is VolumeDriver & LiveSnapshots {
  return typeof (d as Partial<LiveSnapshots>).createLiveSnapshot === 'function';
}

export const VOLUME_ID_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** GiB → bytes, rounded up to whole MiB. */
export function gbToBytes(sizeGb: number): number {
  return Math.ceil((sizeGb * GIB) / MIB) * MIB;
}

export const bytesToGb = (b: number) => b / GIB;
