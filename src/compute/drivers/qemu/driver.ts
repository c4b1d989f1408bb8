/**
 * The qemu compute driver: virtual machines with qemu-system-x86_64.
 *
 * What it cannot do: no live migration; live resize moves memory only
 * within the boot size (virtio-balloon, not below 64 MiB) and adds vCPUs
 * only up to the host's CPU count (hot-plug; never removes them), other
 * vCPU counts and more memory apply at the next start; no exec into the guest,
 * no netns joining (VM networking is tap devices in `spec.nics`), no cgroup
 * limits on the QEMU process, no CPU pinning; KVM only where a probe kernel
 * really boots under it, else TCG (correct but slow).
 *
 * How it works: `create` makes `<stateDir>/instances/<id>/` (made under a
 * temp name and renamed, so a failed create leaves nothing) holding a qcow2
 * overlay over the image's base disk and a NoCloud seed ISO. `start` runs
 * QEMU daemonized with a pidfile, the serial console appended to
 * console.log and QMP on a unix socket; QEMU outlives the control plane. A
 * new driver on the same stateDir finds the VM from the pidfile, checks
 * /proc/<pid>/cmdline names that pidfile, and talks QMP to it again. A start
 * lock file plus that check (and QEMU's own image locks) keep a second QEMU
 * off the same disk.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { YunError, invalid, notFound } from '../../../core/errors.ts';
import { randomToken } from '../../../core/ids.ts';
import { processStartTime, readTail, run, runOk, waitFor } from '../host.ts';
import { liveResizeBlocker, vcpusFor } from '../resize.ts';
import type { LiveResizable, LiveResizeRange, LogReadOptions, StopOptions, WorkloadLimits, WorkloadStats, WorkloadStatus } from '../types.ts';
import { WORKLOAD_ID_RE } from '../types.ts';
import { validateLimits, validateNics } from '../validate.ts';
import { buildQemuArgs } from './args.ts';
import { BALLOON_FLOOR_MB, balloonActual, setBalloon } from './balloon.ts';
import { backupDrive } from './backup.ts';
import { hotplugAdd, hotplugRemove, hotplugResize, volumeDrive } from './hotplug.ts';
import { qemuStats } from './stats.ts';
import { bootFailure, readRunConsole } from './console.ts';
import { plugVcpus } from './cpus.ts';
import { InstanceFiles, type InstanceRecord, type RunRecord, livePid, readJson, readVolumes, writeJson } from './instance.ts';
import { type Accelerator, type AcceleratorProbe, probeAccelerator, qemuVersion } from './probe.ts';
import { withQmp } from './qmp.ts';
import { cachedKernel, defaultCacheDir } from '../../images/vm/kernel.ts';
import { buildSeedImage } from './seed.ts';
import type { QemuCapabilities, QemuWorkloadSpec, VmImageManifest, VolumeAttachment, VolumeCopyTarget, VolumeHotplug, VolumeLiveCopy } from './types.ts';
import type { ComputeDriver } from '../types.ts';

export interface QemuDriverOptions {
  /** Root of everything this driver keeps on disk, e.g. `/var/lib/yun/compute/qemu`. */
  stateDir: string;
  /** Default `qemu-system-x86_64`. */
  binary?: string;
  /** `auto` (default) probes KVM with `probeKernel` and falls back to TCG. */
  accelerator?: 'auto' | Accelerator;
  /**
   * A Linux kernel used only to check that KVM really runs guests. Default:
   * the Debian kernel cached by the tiny-vm builder, if any; without one
   * `auto` means TCG.
   */
  probeKernel?: string;
  /** yun's cache dir (where the tiny-vm builder keeps kernels). Default `defaultCacheDir()`. */
  cacheDir?: string;
  /** Memory when the spec sets no limit. Default 256 MiB. */
  defaultMemoryMb?: number;
  /** Default graceful shutdown wait for `stop`. Default 10 000 ms (the interface's default). */
  stopTimeoutMs?: number;
  /** How long a live resize waits for the guest to give memory back. Default 10 000 ms. */
  balloonWaitMs?: number;
  /** vCPUs a running VM can be given by hot-plug (`-smp maxcpus`). Default: the host's CPU count (never below the VM's own). */
  maxVcpus?: number;
}

export class QemuDriver implements ComputeDriver, LiveResizable, VolumeHotplug, VolumeLiveCopy {
  readonly name = 'qemu';
  private readonly binary: string;
  private probe?: Promise<AcceleratorProbe>;
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Console size of each running VM when it last showed no boot failure (it is read again only once it grew). */
  private readonly consoleClean = new Map<string, number>();

  constructor(private readonly opts: QemuDriverOptions) {
    this.binary = opts.binary ?? 'qemu-system-x86_64';
  }

  private files(id: string): InstanceFiles {
    if (!WORKLOAD_ID_RE.test(id)) throw invalid('/id', `workload id '${id}' must be a DNS label`);
    return new InstanceFiles(join(this.opts.stateDir, 'instances', id));
  }

  /** Serialises mutating calls per workload inside this process (the start lock covers other processes). */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => { if (this.chains.get(id) === tail) this.chains.delete(id); });
    return next;
  }

  private accelerator(): Promise<AcceleratorProbe> {
    const forced = this.opts.accelerator;
    if (forced && forced !== 'auto') return Promise.resolve({ accelerator: forced });
    this.probe ??= (async () =>
      probeAccelerator({ binary: this.binary, probeKernel: this.opts.probeKernel ?? (await cachedKernel(this.opts.cacheDir ?? defaultCacheDir())) }))();
    return this.probe;
  }

  async capabilities(): Promise<QemuCapabilities> {
    const version = await qemuVersion(this.binary);
    const missing: string[] = [];
    if (!version) missing.push(this.binary);
    for (const tool of ['qemu-img', 'genisoimage']) {
      const r = await run('sh', ['-c', 'command -v "$1"', 'sh', tool]);
      if (r.code !== 0) missing.push(tool);
    }
    const accel = version ? await this.accelerator() : { accelerator: 'tcg' as const };
    return {
      available: missing.length === 0,
      ...(missing.length ? { reason: `missing: ${missing.join(', ')} (Debian: qemu-system-x86, qemu-utils, genisoimage)` } : {}),
      backend: `qemu ${version ?? '?'} (${accel.accelerator})`,
      isolation: { pid: true, mount: true, uts: true, ipc: true, net: true, cgroups: false, rootfs: true, capabilities: true, seccomp: false },
      enforces: { cpus: true, memory: true, pids: false },
      liveResize: true,
      exec: false,
      oomDetection: false,
      netns: false,
      writableLayer: 'overlay',
      accelerator: accel.accelerator,
      warnings: accel.warning ? [accel.warning] : [],
      volumeHotplug: true,
    };
  }

  /** Reads `<imageRootfs>/image.json`, applies `spec.vm` over it, makes paths absolute and checks they exist. */
  private async resolveImage(spec: QemuWorkloadSpec): Promise<VmImageManifest> {
    const base = (await readJson<VmImageManifest>(join(spec.imageRootfs, 'image.json'))) ?? {};
    const m: VmImageManifest = { ...base, ...(spec.vm ?? {}) };
    const abs = (p?: string) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(spec.imageRootfs, p));
    const image: VmImageManifest = { kernel: abs(m.kernel), initrd: abs(m.initrd), cmdline: m.cmdline, disk: abs(m.disk), bootMarker: m.bootMarker };
    if (!image.kernel && !image.disk) throw invalid('/imageRootfs', `VM image at ${spec.imageRootfs} has neither kernel nor disk (image.json)`);
    for (const k of ['kernel', 'initrd', 'disk'] as const) {
      const p = image[k];
      if (p && !existsSync(p)) throw invalid('/imageRootfs', `VM image ${k} ${p} does not exist`);
    }
    return JSON.parse(JSON.stringify(image)) as VmImageManifest;
  }

  private validate(spec: QemuWorkloadSpec): void {
    if (!WORKLOAD_ID_RE.test(spec.id)) throw invalid('/id', `workload id '${spec.id}' must be a DNS label`);
    if (!spec.imageRootfs?.startsWith('/')) throw invalid('/imageRootfs', 'imageRootfs must be an absolute path (a VM image directory)');
    if (spec.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(spec.hostname)) throw invalid('/hostname', 'hostname must be a DNS name');
    validateLimits(spec.limits ?? {});
    if (spec.vm?.rootDiskGb !== undefined && !(spec.vm.rootDiskGb > 0)) throw invalid('/vm/rootDiskGb', 'rootDiskGb must be > 0');
    for (const [i, f] of (spec.files ?? []).entries()) {
      if (!f.path.startsWith('/') || f.path.split('/').includes('..')) throw invalid(`/files/${i}/path`, 'injected file path must be absolute without ..');
    }
    validateNics(spec.nics ?? []);
  }

  async create(spec: QemuWorkloadSpec): Promise<void> {
    this.validate(spec);
    return this.serial(spec.id, async () => {
      const f = this.files(spec.id);
      if (existsSync(f.record)) return;
      const image = await this.resolveImage(spec);
      const parent = join(this.opts.stateDir, 'instances');
      await mkdir(parent, { recursive: true });
      const tmp = new InstanceFiles(join(parent, `.tmp-${spec.id}-${randomToken(6)}`));
      await mkdir(tmp.dir);
      try {
        if (image.disk) {
          const info = JSON.parse(await runOk('qemu-img', ['info', '--output=json', image.disk])) as { format: string; 'virtual-size': number };
          const args = ['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', image.disk, tmp.disk];
          // the flavor's disk (limits.rootDiskGb, or vm.rootDiskGb), never smaller than the image's own disk
          const wantMb = Math.round((spec.vm?.rootDiskGb ?? spec.limits?.rootDiskGb ?? 0) * 1024);
          if (wantMb * 2 ** 20 > info['virtual-size']) args.push(`${wantMb}M`);
          await runOk('qemu-img', args);
        }
        await buildSeedImage(tmp.seed, {
          instanceId: spec.id,
          hostname: spec.hostname ?? spec.id,
          userData: spec.userData,
          networkConfig: spec.vm?.networkConfig,
          nics: spec.nics,
          files: spec.files,
        });
        const record: InstanceRecord = { spec, image, limits: spec.limits ?? {}, createdAt: new Date().toISOString() };
        await writeJson(tmp.record, record);
        await rename(tmp.dir, f.dir);
      } catch (e) {
        await rm(tmp.dir, { recursive: true, force: true });
        throw e;
      }
    });
  }

  private async record(id: string): Promise<{ f: InstanceFiles; rec: InstanceRecord }> {
    const f = this.files(id);
    const rec = await readJson<InstanceRecord>(f.record);
    if (!rec) throw notFound('workload', id);
    return { f, rec };
  }

  async start(id: string): Promise<void> {
    return this.serial(id, async () => {
      const { f, rec } = await this.record(id);
      await this.withStartLock(f, async () => {
        if (await livePid(f)) return;
        const accel = rec.spec.vm?.accelerator ?? (await this.accelerator()).accelerator;
        const volumes = await readVolumes(f);
        const vcpus = vcpusFor(rec.limits.cpus);
        const maxVcpus = this.maxVcpusFor(vcpus);
        const memoryMb = this.memoryOf(rec);
        await rm(f.qmpSocket, { force: true });
        await rm(f.pidFile, { force: true });
        const consoleFrom = await stat(f.console).then((s) => s.size, () => 0);
        const diskBoot = !rec.image.kernel;
        if (diskBoot) await writeFile(f.serconPort, Buffer.from([0xf8, 0x03]));
        const args = buildQemuArgs({
          binary: this.binary,
          accelerator: accel,
          id,
          vcpus,
          maxVcpus,
          memoryMb,
          kernel: rec.image.kernel,
          initrd: rec.image.initrd,
          cmdline: rec.image.cmdline,
          rootDisk: rec.image.disk ? { name: 'root', path: f.disk, format: 'qcow2', serial: 'root' } : undefined,
          seed: f.seed,
          drives: volumes.map(volumeDrive),
          nics: rec.spec.nics ?? [],
          consoleLog: f.console,
          ...(diskBoot ? { firmwareSerial: f.serconPort } : {}),
          qmpSocket: f.qmpSocket,
          pidFile: f.pidFile,
        });
        // -daemonize: returns once QEMU has opened everything and forked off; errors come back here.
        await runOk(this.binary, args, { timeoutMs: 60_000 });
        const live = await waitFor(() => livePid(f), 5000, 50);
        if (!live) throw new YunError('DriverFailed', `QEMU for ${id} exited right after starting; see ${f.console}`);
        const run: RunRecord = { startedAt: new Date().toISOString(), pid: live.pid, pidStart: live.start, accelerator: accel, vcpus, maxVcpus, memoryMb, balloon: true, consoleFrom };
        await writeJson(f.run, run);
      });
    });
  }

  /**
   * A lock file (holding our pid) around start, so two control planes on one
   * host never launch two QEMUs for one VM. A lock left by a dead process is
   * taken over.
   */
  private async withStartLock(f: InstanceFiles, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(f.startLock, 'wx');
        await fh.writeFile(String(process.pid));
        await fh.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
        const holder = Number.parseInt(await readFile(f.startLock, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(holder) && holder !== process.pid && (await processStartTime(holder))) {
          throw new YunError('Conflict', `another process (${holder}) is starting this VM`);
        }
        await unlink(f.startLock).catch(() => undefined);
      }
    }
    try {
      await fn();
    } finally {
      await unlink(f.startLock).catch(() => undefined);
    }
  }

  async stop(id: string, opts: StopOptions = {}): Promise<void> {
    return this.serial(id, async () => {
      const { f } = await this.record(id);
      await this.shutdown(f, opts.timeoutMs ?? this.opts.stopTimeoutMs ?? 10_000);
    });
  }

  /**
   * ACPI power button (system_powerdown), wait up to `timeoutMs` for the guest
   * to power off; then QMP `quit`; then SIGKILL. Records the outcome in run.json.
   */
  private async shutdown(f: InstanceFiles, timeoutMs: number): Promise<void> {
    const live = await livePid(f);
    if (!live) return void (await this.markExited(f));
    const gone = () => processStartTime(live.pid).then((s) => s !== live.start);
    let graceful = false;
    if (timeoutMs > 0) {
      await withQmp(f.qmpSocket, (q) => q.execute('system_powerdown')).catch(() => undefined);
      graceful = !!(await waitFor(gone, timeoutMs, 100));
    }
    if (!graceful) {
      await withQmp(f.qmpSocket, (q) => q.execute('quit')).catch(() => undefined);
      if (!(await waitFor(gone, 3000, 50))) {
        try { process.kill(live.pid, 'SIGKILL'); } catch { /* already gone */ }
        await waitFor(gone, 5000, 50);
      }
    }
    await this.markExited(f, graceful ? 0 : 137);
  }

  private async markExited(f: InstanceFiles, exitCode?: number, failure?: string): Promise<RunRecord | undefined> {
    const run = await readJson<RunRecord>(f.run);
    if (!run || run.finishedAt) return run;
    run.finishedAt = new Date().toISOString();
    if (exitCode !== undefined) run.exitCode = exitCode;
    if (failure) Object.assign(run, { failure, exitCode: run.exitCode ?? 1 });
    await writeJson(f.run, run);
    return run;
  }

  /** A boot failure in the console of the running QEMU (runs of older drivers: not looked for). */
  private async liveFailure(id: string, f: InstanceFiles, run: RunRecord): Promise<string | undefined> {
    if (run.consoleFrom === undefined) return undefined;
    const size = await stat(f.console).then((s) => s.size, () => 0);
    if (this.consoleClean.get(id) === size) return undefined;
    const failure = bootFailure(await readRunConsole(f.console, run.consoleFrom));
    if (!failure) this.consoleClean.set(id, size);
    return failure;
  }

  async delete(id: string): Promise<void> {
    this.consoleClean.delete(id);
    return this.serial(id, async () => {
      const f = this.files(id);
      if (!existsSync(f.dir)) return;
      await this.shutdown(f, 0);
      await rm(f.qmpSocket, { force: true });
      await rm(f.dir, { recursive: true, force: true });
    });
  }

  async inspect(id: string): Promise<WorkloadStatus | undefined> {
    const f = this.files(id);
    const rec = await readJson<InstanceRecord>(f.record);
    if (!rec) return undefined;
    let run = await readJson<RunRecord>(f.run);
    const base = { id, oomKilled: false, createdAt: rec.createdAt, limits: rec.limits, liveResize: this.liveRange(rec) };
    if (!run) return { ...base, state: 'created' };
    const live = await livePid(f);
    if (live && live.pid === run.pid && live.start === run.pidStart) {
      const failure = await this.liveFailure(id, f, run);
      if (!failure) return { ...base, state: 'running', pid: live.pid, startedAt: run.startedAt, liveResize: this.liveRange(rec, run) };
      // a panic pvpanic did not catch, or firmware with nothing to boot: this run is over
      run = (await this.serial(id, async () => {
        const r = await this.markExited(f, undefined, failure);
        await this.shutdown(f, 0);
        return r;
      })) ?? run;
    }
    run = (await this.markExited(f, undefined, await guestFailure(f, run))) ?? run;
    return {
      ...base,
      state: 'exited',
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
      ...(run.failure ? { failure: run.failure } : {}),
    };
  }

  async list(): Promise<WorkloadStatus[]> {
    let names: string[];
    try {
      names = await readdir(join(this.opts.stateDir, 'instances'));
    } catch {
      return [];
    }
    const out: WorkloadStatus[] = [];
    for (const n of names.filter((x) => WORKLOAD_ID_RE.test(x)).sort()) {
      const s = await this.inspect(n);
      if (s) out.push(s);
    }
    return out;
  }

  logPath(id: string): string {
    return this.files(id).console;
  }

  async readLog(id: string, opts: LogReadOptions = {}): Promise<string> {
    const { f } = await this.record(id);
    return readTail(f.console, opts.tailBytes);
  }

  async stats(id: string): Promise<WorkloadStats> {
    const { f } = await this.record(id);
    const live = await livePid(f);
    if (!live) return { cpuSeconds: 0, memoryBytes: 0, pids: 0 };
    const s = await qemuStats(live.pid, f.qmpSocket);
    const guest = await balloonActual(f.qmpSocket).catch(() => undefined);
    return guest === undefined ? s : { ...s, guestMemoryBytes: guest };
  }

  private memoryOf(rec: InstanceRecord): number {
    return rec.limits.memoryMb ?? this.opts.defaultMemoryMb ?? 256;
  }

  /**
   * What the VM takes live: with `run` (it runs) what that QEMU was started
   * with; without, what the next start gives. Memory moves by ballooning,
   * so QEMUs started without a balloon device take no memory change.
   */
  private liveRange(rec: InstanceRecord, run?: RunRecord): LiveResizeRange {
    const vcpus = run?.vcpus ?? vcpusFor(rec.limits.cpus);
    const maxVcpus = run ? run.maxVcpus ?? vcpus : this.maxVcpusFor(vcpus);
    const boot = run?.memoryMb ?? this.memoryOf(rec);
    const balloon = !run || run.balloon === true;
    return { vcpus, ...(maxVcpus > vcpus ? { maxVcpus } : {}), minMemoryMb: balloon ? Math.min(BALLOON_FLOOR_MB, boot) : boot, maxMemoryMb: boot };
  }

  private maxVcpusFor(vcpus: number): number {
    return Math.max(vcpus, this.opts.maxVcpus ?? availableParallelism());
  }

  /**
   * New limits. Not running: kept for the next start (disks, seed and
   * volumes untouched). Running: only inside its live range (memory by
   * QMP `balloon`, waiting up to `balloonWaitMs` for the guest), else
   * `InvalidState` naming what needs a restart, and nothing changes.
   */
  async resize(id: string, limits: WorkloadLimits): Promise<void> {
    validateLimits(limits);
    return this.serial(id, async () => {
      const { f, rec } = await this.record(id);
      const next: WorkloadLimits = { ...rec.limits, ...limits };
      const live = await livePid(f);
      const run = live ? await readJson<RunRecord>(f.run) : undefined;
      if (live && run) {
        const blocker = liveResizeBlocker(this.liveRange(rec, run), next);
        if (blocker) throw new YunError('InvalidState', `VM ${id} cannot take this resize while it runs: ${blocker}; stop it first`, { details: { needs: 'restart' } });
        const memoryMb = this.memoryOf({ ...rec, limits: next });
        if (memoryMb !== this.memoryOf(rec)) await setBalloon(f.qmpSocket, memoryMb, this.opts.balloonWaitMs ?? 10_000);
        const vcpus = vcpusFor(next.cpus);
        if (vcpus > (run.vcpus ?? vcpus)) await writeJson(f.run, { ...run, vcpus: await plugVcpus(f.qmpSocket, vcpus) } satisfies RunRecord);
      }
      if (next.rootDiskGb && rec.image.disk) await this.growRootDisk(f, next.rootDiskGb, Boolean(live));
      await writeJson(f.record, { ...rec, limits: next } satisfies InstanceRecord);
    });
  }

  /** Grows the root overlay to `gb` (QMP block_resize while QEMU runs, else qemu-img resize); never shrinks it. */
  private async growRootDisk(f: InstanceFiles, gb: number, running: boolean): Promise<void> {
    const want = Math.round(gb * 1024) * 2 ** 20;
    const info = JSON.parse(await runOk('qemu-img', ['info', '-U', '--output=json', f.disk])) as { 'virtual-size': number };
    if (want <= info['virtual-size']) return;
    if (running) await hotplugResize(f.qmpSocket, { name: 'root', path: f.disk, format: 'qcow2' }, want);
    else await runOk('qemu-img', ['resize', '-q', f.disk, String(want)]);
  }

  /** Hardware reset (QMP system_reset): the guest reboots at once, without shutting down. */
  async reboot(id: string): Promise<void> {
    const { f } = await this.record(id);
    if (!(await livePid(f))) throw new YunError('InvalidState', `VM ${id} is not running`);
    await withQmp(f.qmpSocket, (q) => q.execute('system_reset'));
  }

  /** QEMU's own view (QMP query-status): `running`, `paused`, `shutdown`, ...; undefined when not running. */
  async vmStatus(id: string): Promise<string | undefined> {
    const { f } = await this.record(id);
    if (!(await livePid(f))) return undefined;
    return (await withQmp(f.qmpSocket, (q) => q.execute<{ status: string }>('query-status'))).status;
  }

  async attachVolume(id: string, volume: VolumeAttachment): Promise<void> {
    return this.serial(id, async () => {
      const { f } = await this.record(id);
      const vols = await readVolumes(f);
      if (vols.some((v) => v.volumeId === volume.volumeId)) return;
      if (await livePid(f)) await hotplugAdd(f.qmpSocket, volumeDrive(volume));
      await writeJson(f.volumes, [...vols, volume]);
    });
  }

  async detachVolume(id: string, volumeId: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.serial(id, async () => {
      const { f } = await this.record(id);
      const vols = await readVolumes(f);
      const vol = vols.find((v) => v.volumeId === volumeId);
      if (!vol) return;
      if (await livePid(f)) await hotplugRemove(f.qmpSocket, volumeDrive(vol), opts.timeoutMs ?? 30_000);
      await writeJson(f.volumes, vols.filter((v) => v.volumeId !== volumeId));
    });
  }

  async resizeVolume(id: string, volumeId: string, sizeBytes: number): Promise<void> {
    if (!(Number.isSafeInteger(sizeBytes) && sizeBytes > 0 && sizeBytes % 512 === 0)) throw invalid('/sizeBytes', 'size must be a positive multiple of 512 bytes');
    return this.serial(id, async () => {
      const { f } = await this.record(id);
      const vol = (await readVolumes(f)).find((v) => v.volumeId === volumeId);
      if (!vol) throw notFound('volume attachment', volumeId);
      if (!(await livePid(f))) return;
      await hotplugResize(f.qmpSocket, volumeDrive(vol), sizeBytes);
    });
  }

  async attachedVolumes(id: string): Promise<VolumeAttachment[]> {
    const { f } = await this.record(id);
    return readVolumes(f);
  }

  async copyVolume(id: string, volumeId: string, target: VolumeCopyTarget, opts: { speedBytesPerSec?: number; timeoutMs?: number } = {}): Promise<void> {
    return this.serial(id, async () => {
      const { f } = await this.record(id);
      const vol = (await readVolumes(f)).find((v) => v.volumeId === volumeId);
      if (!vol) throw notFound('volume attachment', volumeId);
      if (!(await livePid(f))) throw new YunError('InvalidState', `VM ${id} is not running; copy the volume's file instead`);
      await backupDrive(f.qmpSocket, volumeDrive(vol), target, opts);
    });
  }
}

/**
 * Why a QEMU that ended on its own failed, from the console of that run: a
 * kernel panic (pvpanic makes QEMU exit on one). Undefined for a guest that
 * powered off. Runs of older drivers have no start offset: their last boot is
 * read instead.
 */
async function guestFailure(f: InstanceFiles, run: RunRecord): Promise<string | undefined> {
  if (run.consoleFrom !== undefined) return bootFailure(await readRunConsole(f.console, run.consoleFrom));
  const log = await readTail(f.console, 16 * 1024).catch(() => '');
  const boot = log.lastIndexOf('Linux version ');
  return bootFailure(boot >= 0 ? log.slice(boot) : log);
}
