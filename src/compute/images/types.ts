/** What every image builder/importer returns. `os`/`arch` use OCI names (`linux`, `amd64`, `arm64`). */
export interface ImageInfo {
  /** Absolute path of the root filesystem directory (use it read-only as a workload's lower layer). */
  rootfs: string;
  /** Sum of regular file sizes in the rootfs. */
  sizeBytes: number;
  /** Content digest of the rootfs tree (see digest.ts), hex. */
  sha256: string;
  os: string;
  arch: string;
}

export const hostArch = (): string => ({ x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' })[process.arch as string] ?? process.arch;
