/** Block storage resource shapes (volumes, snapshots), shared by service, controller, SDK and CLI. */

export type VolumeType = 'file' | 'qcow2';

export type VolumeState = 'creating' | 'available' | 'attaching' | 'in-use' | 'detaching' | 'extending' | 'deleting' | 'error';

/** Where the user wants the volume: on an instance (by id, resolved from the name at attach time). */
export interface VolumeAttachmentSpec {
  instanceId: string;
  instance: string;
  /** Containers: where the filesystem appears inside (default `/mnt/<volume name>`). VMs ignore it. */
  mountPath?: string;
}

export interface VolumeSpec {
  /** GiB. Only grows (the extend action). */
  sizeGb: number;
  /** `file`: sparse raw (containers and VMs); `qcow2`: thin qcow2 (VMs only). Default `file`. */
  type?: VolumeType;
  /** Snapshot name to fill the volume from (its type wins). */
  fromSnapshot?: string;
  /** Derived: the snapshot's id. */
  fromSnapshotId?: string;
  /**
   * Image name to fill the volume from (the project's own or a public one):
   * a VM image's disk, or a container image's files on an ext4 filesystem.
   */
  fromImage?: string;
  /** Derived: the image's id. */
  fromImageId?: string;
  /** Desired attachment (the attach/detach actions set it). One writer at a time: at most one. */
  attachment?: VolumeAttachmentSpec;
}

/** What is attached now, as the controller made it. */
export interface VolumeAttachmentStatus {
  instanceId: string;
  instance: string;
  kind: 'vm' | 'container';
  /** VMs: the virtio serial the guest sees (`/dev/disk/by-id/virtio-<serial>`). */
  serial?: string;
  /** Containers: the mount point inside the container. */
  mountPath?: string;
  /** Containers: the workload pid whose mount namespace holds the mount (a restart makes a new one). */
  pid?: number;
  attachedAt: string;
}

export interface VolumeStatus {
  state?: VolumeState;
  reason?: string;
  sizeGb?: number;
  allocatedBytes?: number;
  format?: 'raw' | 'qcow2';
  attachment?: VolumeAttachmentStatus;
  /** With `fromImage`: the image's bytes are in (set once, before the volume is first available). */
  filledFromImage?: boolean;
  /** The volume grew but its filesystem not yet (no online resize here); it grows at the next detach/attach. */
  fsResizePending?: boolean;
  message?: string;
  observedGeneration?: number;
  conditions?: import('../core/resource.ts').Condition[];
  [k: string]: unknown;
}

export interface SnapshotSpec {
  /** Volume name at creation. */
  volume: string;
  /** Derived: the volume's id. */
  volumeId?: string;
  description?: string;
}

export interface SnapshotStatus {
  state?: 'creating' | 'available' | 'deleting' | 'error';
  reason?: string;
  sizeGb?: number;
  allocatedBytes?: number;
  type?: VolumeType;
  createdAt?: string;
  [k: string]: unknown;
}
