import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../host.ts';
import type { WorkloadLimits } from '../types.ts';
import type { Accelerator } from './probe.ts';
import type { QemuWorkloadSpec, VmImageManifest, VolumeAttachment } from './types.ts';

/** Files of one VM under `<stateDir>/instances/<id>/`. */
export class InstanceFiles {
  constructor(readonly dir: string) {}
  get record() { return join(this.dir, 'instance.json'); }
  get run() { return join(this.dir, 'run.json'); }
  get volumes() { return join(this.dir, 'volumes.json'); }
  get disk() { return join(this.dir, 'disk.qcow2'); }
  get seed() { return join(this.dir, 'seed.iso'); }
  get console() { return join(this.dir, 'console.log'); }
  /** fw_cfg file telling SeaBIOS to mirror its screen to COM1 (disk boots), so 'No bootable device' reaches the console. */
  get serconPort() { return join(this.dir, 'sercon-port'); }
  get pidFile() { return join(this.dir, 'qemu.pid'); }
  get startLock() { return join(this.dir, 'start.lock'); }
  /** unix socket paths are limited to 107 bytes: long state dirs get a hashed path in the temp dir. */
  get qmpSocket() {
    const p = join(this.dir, 'qmp.sock');
    if (Buffer.byteLength(p) <= 100) return p;
    return join(tmpdir(), `yun-qmp-${createHash('sha256').update(this.dir).digest('hex').slice(0, 20)}.sock`);
  }
}

/** instance.json: written by create; its presence means the workload exists. */
export interface InstanceRecord {
  spec: QemuWorkloadSpec;
  /** Resolved image (absolute paths). */
  image: VmImageManifest;
  /** Wanted limits: from create, changed by resize; a start boots with them. */
  limits: WorkloadLimits;
  createdAt: string;
}

/** run.json: one per start. */
export interface RunRecord {
  startedAt: string;
  pid: number;
  pidStart: string;
  accelerator: Accelerator;
  /** What QEMU was started with (absent in runs of older drivers): the live resize range. */
  vcpus?: number;
  memoryMb?: number;
  /** `-smp maxcpus`: vCPUs can be hot-plugged up to this (`vcpus` counts those plugged since). */
  maxVcpus?: number;
  /** QEMU has the virtio-balloon device. */
  balloon?: boolean;
  /** Size of console.log when this run started: the run's console is what follows (absent in runs of older drivers). */
  consoleFrom?: number;
  finishedAt?: string;
  exitCode?: number;
  /** The guest failed rather than stopped (kernel panic): why, with the console line. */
  failure?: string;
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Write-then-rename so a crash never leaves a torn JSON file. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value, null, 2));
  await rename(tmp, path);
}

export async function readVolumes(f: InstanceFiles): Promise<VolumeAttachment[]> {
  return (await readJson<VolumeAttachment[]>(f.volumes)) ?? [];
}

/**
 * The pid in the pidfile, if that process is alive AND is the QEMU started
 * with this very pidfile (its /proc cmdline says so). A reused pid or a
 * stale pidfile yields undefined.
 */
export async function livePid(f: InstanceFiles): Promise<{ pid: number; start: string } | undefined> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(f.pidFile, 'utf8')).trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const start = await processStartTime(pid);
  if (!start) return undefined;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const i = argv.indexOf('-pidfile');
    if (!/qemu-system/.test(argv[0] ?? '') || i < 0 || argv[i + 1] !== f.pidFile) return undefined;
  } catch {
    return undefined;
  }
  return { pid, start };
}
