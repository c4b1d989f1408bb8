/**
 * The oci compute driver: Linux containers through Debian's crun (or runc).
 *
 * What it cannot do: no user namespaces (containers run as real root with
 * the default capability set, noNewPrivileges and a seccomp deny list — see
 * seccomp.ts; without seccomp in the runtime, capabilities say so), no
 * network set-up of its own (it joins `netnsPath` or gets a loopback-only
 * namespace), needs root on the host.
 *
 * How it works: `create` builds a bundle under `<stateDir>/workloads/<id>/`
 * (overlay rootfs, config.json, a driver-owned parent cgroup carrying the
 * limits). `start` spawns a detached supervisor (supervise.pl, a child
 * subreaper) that runs `crun run --detach` with stdout/stderr appended to
 * console.log, waits for the container init and writes its exit status to
 * a file, so exit codes and logs survive a control-plane restart. The
 * stopped container (and its cgroup with the OOM-kill counter) is kept
 * until the next start or delete. A new driver on the same stateDir finds everything
 * again from those files plus /proc (pid + kernel start time).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { YunError, notFound } from '../../../core/errors.ts';
import { KeyedSerializer, isSameProcessAlive, processStartTime, readTail, waitFor } from '../host.ts';
import type {
  ComputeCapabilities,
  ComputeDriver,
  Execable,
  ExecOptions,
  ExecResult,
  LiveResizable,
  LogReadOptions,
  StopOptions,
  WorkloadLimits,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from '../types.ts';
import { validateLimits, validateWorkloadSpec } from '../validate.ts';
import { USER_DATA_INIT, envList, ociConfig } from './bundle.ts';
import { type CgroupLayout, WorkloadCgroup, detectCgroupLayout } from './cgroups.ts';
import { injectFiles } from '../inject.ts';
import { overlaySupported, prepareRootfs, unmountRootfs } from './rootfs.ts';
import { type OciRuntimeInfo, RuntimeCli, findOciRuntime } from './runtime.ts';
import { defaultSeccomp } from './seccomp.ts';


/** How crun and runc report their own failures on stderr (our log), as opposed to a workload's output. */
const RUNTIME_ERROR = /(^|\n)(crun|runc)?[^\n]*(level=error|: error|failed to|cannot |no such file|executable file not found)/i;
export interface OciDriverOptions {
  /** Root of everything this driver keeps on disk, e.g. `/var/lib/yun/compute/oci`. */
  stateDir: string;
  /** Use this runtime instead of looking for crun/runc. */
  runtime?: OciRuntimeInfo;
  /** Force the writable layer method (default: overlay when the kernel has it). */
  writableLayer?: 'overlay' | 'copy';
  /** How long `start` waits for the container to come up. Default 30 s. */
  startTimeoutMs?: number;
}

/** Persisted per workload in workload.json; its presence means "created". */
interface WorkloadRecord {
  spec: WorkloadSpec;
  limits: WorkloadLimits;
  createdAt: string;
}

/** Persisted per start in run.json. */
interface RunRecord {
  startedAt: string;
  supervisorPid: number;
  supervisorStart: string;
  pid?: number;
  pidStart?: string;
  oomBaseline: number;
}

interface Host {
  cli: RuntimeCli;
  layout: CgroupLayout;
  writableLayer: 'overlay' | 'copy';
  caps: ComputeCapabilities;
  /** The filter every bundle gets, or undefined (runtime without seccomp, unknown architecture). */
  seccomp?: Record<string, unknown>;
}

export class OciDriver implements ComputeDriver, LiveResizable, Execable {
  private readonly serial = new KeyedSerializer();
  readonly name = 'oci';
  private hostP?: Promise<Host>;
  /** Short hash of stateDir: keeps cgroups of two drivers (two test clouds) on one host apart. */
  private readonly scope: string;

  constructor(private readonly opts: OciDriverOptions) {
    this.scope = createHash('sha256').update(opts.stateDir).digest('hex').slice(0, 8);
  }

  private host(): Promise<Host> {
    this.hostP ??= this.probe();
    return this.hostP;
  }

  private async probe(): Promise<Host> {
    const rt = this.opts.runtime ?? (await findOciRuntime());
    const layout = detectCgroupLayout();
    const overlay = await overlaySupported();
    const writableLayer = this.opts.writableLayer ?? (overlay ? 'overlay' : 'copy');
    const root = process.getuid?.() === 0;
    const seccomp = rt && rt.seccomp !== false ? defaultSeccomp() : undefined;
    let reason: string | undefined;
    if (!root) reason = 'the oci driver needs root';
    else if (!rt) reason = 'neither crun nor runc found (apt-get install crun)';
    else if (layout === 'none') reason = 'no cgroup memory controller mounted';
    const caps: ComputeCapabilities = {
      available: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
      backend: rt ? `${rt.name} ${rt.version} (cgroups ${layout})` : 'none',
      isolation: { pid: true, mount: true, uts: true, ipc: true, net: true, cgroups: true, rootfs: true, capabilities: true, seccomp: seccomp !== undefined },
      enforces: { cpus: true, memory: true, pids: true },
      liveResize: true,
      exec: true,
      oomDetection: true,
      netns: true,
      writableLayer,
    };
    const fallback: OciRuntimeInfo = { name: 'crun', path: '/usr/bin/crun', version: 'missing' };
    const cli = new RuntimeCli(rt ?? fallback, join(this.opts.stateDir, 'runtime'), rt?.name === 'crun' && layout === 'hybrid');
    return { cli, layout, writableLayer, caps, seccomp };
  }

  async capabilities(): Promise<ComputeCapabilities> {
    return (await this.host()).caps;
  }

  // ---- paths and records -------------------------------------------------

  private dir(id: string) {
    return join(this.opts.stateDir, 'workloads', id);
  }
  private paths(id: string) {
    const d = this.dir(id);
    return {
      dir: d,
      record: join(d, 'workload.json'),
      run: join(d, 'run.json'),
      exit: join(d, 'exit'),
      pid: join(d, 'init.pid'),
      log: join(d, 'console.log'),
      bundle: join(d, 'bundle'),
      rootfs: join(d, 'bundle', 'rootfs'),
      upper: join(d, 'upper'),
      work: join(d, 'work'),
    };
  }
  /** Backend-native container name; never leaves the driver. */
  private native(id: string) {
    return `yun-${this.scope}-${id}`;
  }
  private cgroup(h: Host, id: string) {
    return new WorkloadCgroup(h.layout, `yun/${this.scope}/${id}`);
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
  private async writeJson(path: string, v: unknown) {
    await writeFile(`${path}.tmp`, JSON.stringify(v, null, 1));
    await rename(`${path}.tmp`, path);
  }
  private async record(id: string): Promise<WorkloadRecord> {
    const r = await this.readJson<WorkloadRecord>(this.paths(id).record);
    if (!r) throw notFound('workload', id);
    return r;
  }
  private async ready(): Promise<Host> {
    const h = await this.host();
    if (!h.caps.available) throw new YunError('CapabilityMissing', `oci driver unavailable: ${h.caps.reason}`);
    return h;
  }

  // ---- lifecycle ---------------------------------------------------------

  create(spec: WorkloadSpec): Promise<void> {
    return this.serial.run(spec.id, () => this.createNow(spec));
  }

  private async createNow(spec: WorkloadSpec): Promise<void> {
    validateWorkloadSpec(spec);
    const h = await this.ready();
    const p = this.paths(spec.id);
    if (existsSync(p.record)) return;
    if (!(await stat(spec.imageRootfs).catch(() => undefined))?.isDirectory())
      throw new YunError('ValidationFailed', `image rootfs ${spec.imageRootfs} is not a directory`, { field: '/imageRootfs' });
    if (spec.userData !== undefined && !(await lstat(join(spec.imageRootfs, 'bin/sh')).catch(() => undefined)))
      throw new YunError('ValidationFailed', 'userData needs /bin/sh in the image', { field: '/userData' });
    try {
      await mkdir(p.dir, { recursive: true });
      await prepareRootfs(spec.imageRootfs, p, h.writableLayer);
      const files = [...(spec.files ?? [])];
      if (spec.userData !== undefined) {
        files.push({ path: '/run/yun/user-data', content: spec.userData, mode: 0o755 });
        files.push({ path: '/run/yun/init', content: USER_DATA_INIT, mode: 0o755 });
      }
      await injectFiles(p.rootfs, files);
      const cg = this.cgroup(h, spec.id);
      await cg.setup(spec.limits ?? {});
      await this.writeJson(join(p.bundle, 'config.json'), ociConfig(spec, { rootfs: p.rootfs, cgroupsPath: cg.leafPath, seccomp: h.seccomp }));
      await writeFile(p.log, '', { flag: 'a' });
      const rec: WorkloadRecord = { spec, limits: { ...spec.limits }, createdAt: new Date().toISOString() };
      await this.writeJson(p.record, rec);
    } catch (e) {
      await this.destroy(h, spec.id);
      if (e instanceof YunError) throw e;
      throw new YunError('DriverFailed', `create ${spec.id} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  start(id: string): Promise<void> {
    return this.serial.run(id, () => this.startNow(id));
  }

  private async startNow(id: string): Promise<void> {
    const h = await this.ready();
    const rec = await this.record(id);
    const st = await this.inspect(id);
    if (st?.state === 'running') return;
    const p = this.paths(id);
    await prepareRootfs(rec.spec.imageRootfs, p, h.writableLayer); // after a host reboot the overlay is gone
    const cg = this.cgroup(h, id);
    await cg.setup(rec.limits);
    // The previous run's stopped container (kept for its exit status and OOM counter) goes now.
    if (st?.startedAt) await h.cli.call(['delete', '--force', this.native(id)]);
    await rm(p.exit, { force: true });
    await rm(p.pid, { force: true });
    const oomBaseline = await cg.oomKills();
    const [cmd, args] = h.cli.supervisedCommand(p.exit, p.pid, ['run', '--detach', '--bundle', p.bundle, '--pid-file', p.pid, this.native(id)]);
    const fd = openSync(p.log, 'a');
    let supervisorPid: number;
    try {
      const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      supervisorPid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
    } finally {
      closeSync(fd);
    }
    const run: RunRecord = {
      startedAt: new Date().toISOString(),
      supervisorPid,
      supervisorStart: (await processStartTime(supervisorPid)) ?? '',
      oomBaseline,
    };
    await this.writeJson(p.run, run);
    const up = await waitFor(async () => (await this.readPid(p.pid)) ?? (existsSync(p.exit) ? -1 : undefined), this.opts.startTimeoutMs ?? 30_000, 2);
    if (up === -1 && !RUNTIME_ERROR.test(await readTail(p.log, 2000))) {
      // runc's `run --detach` reaps a workload that exits before it returns and
      // answers with that exit status, leaving no pid file: it did start, and the
      // exit file holds its status. Only a runtime error message means it never ran.
      return;
    }
    if (up === undefined || up === -1) {
      const log = await readTail(p.log, 2000);
      if (up === undefined) await this.kill(h, id, run, 'KILL');
      throw new YunError('DriverFailed', `workload ${id} did not start`, { details: { log } });
    }
    run.pid = up;
    run.pidStart = await processStartTime(up);
    await this.writeJson(p.run, run);
  }

  private async readPid(path: string): Promise<number | undefined> {
    const t = await readFile(path, 'utf8').catch(() => '');
    const n = Number.parseInt(t.trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

  stop(id: string, opts: StopOptions = {}): Promise<void> {
    return this.serial.run(id, () => this.stopNow(id, opts));
  }

  private async stopNow(id: string, opts: StopOptions = {}): Promise<void> {
    const h = await this.ready();
    await this.record(id);
    const run = await this.readJson<RunRecord>(this.paths(id).run);
    if (!run || (await this.inspect(id))?.state !== 'running') return;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (timeoutMs > 0) {
      await this.kill(h, id, run, 'TERM');
      if (await waitFor(async () => !(await this.alive(run)), timeoutMs, 20)) return;
    }
    await this.kill(h, id, run, 'KILL');
    if (!(await waitFor(async () => !(await this.alive(run)), 15_000, 20)))
      throw new YunError('DriverFailed', `workload ${id} did not stop after SIGKILL`);
  }

  private async kill(h: Host, id: string, run: RunRecord, sig: 'TERM' | 'KILL'): Promise<void> {
    const args = sig === 'KILL' ? ['kill', '--all', this.native(id), 'KILL'] : ['kill', this.native(id), 'TERM'];
    await h.cli.call(args);
    // The runtime may have lost its state (e.g. deleted by hand): signal the processes we know directly.
    if (sig === 'KILL' && run.pid && run.pidStart && (await isSameProcessAlive(run.pid, run.pidStart))) {
      try {
        process.kill(run.pid, 'SIGKILL');
      } catch {}
    }
  }

  /** Running = the supervisor (which waits on the container) or the container init is alive. */
  private async alive(run: RunRecord): Promise<boolean> {
    if (await isSameProcessAlive(run.supervisorPid, run.supervisorStart)) return true;
    return run.pid !== undefined && run.pidStart !== undefined && (await isSameProcessAlive(run.pid, run.pidStart));
  }

  delete(id: string): Promise<void> {
    return this.serial.run(id, () => this.deleteNow(id));
  }

  private async deleteNow(id: string): Promise<void> {
    const h = await this.ready();
    if (!existsSync(this.dir(id))) return;
    if (existsSync(this.paths(id).record)) await this.stopNow(id, { timeoutMs: 0 });
    await this.destroy(h, id);
  }

  /** Remove every trace of `id`. Each step tolerates "already gone". */
  private async destroy(h: Host, id: string): Promise<void> {
    const p = this.paths(id);
    const r = await h.cli.call(['delete', '--force', this.native(id)]);
    if (r.code !== 0 && !/not exist|No such file/i.test(r.stderr))
      throw new YunError('DriverFailed', `runtime delete failed: ${r.stderr.trim()}`);
    await unmountRootfs(p.rootfs);
    await this.cgroup(h, id).remove();
    await rm(p.dir, { recursive: true, force: true });
  }

  // ---- observation -------------------------------------------------------

  async inspect(id: string): Promise<WorkloadStatus | undefined> {
    const p = this.paths(id);
    const rec = await this.readJson<WorkloadRecord>(p.record);
    if (!rec) return undefined;
    const base: WorkloadStatus = { id, state: 'created', oomKilled: false, createdAt: rec.createdAt, limits: rec.limits };
    const run = await this.readJson<RunRecord>(p.run);
    if (!run) return base;
    base.startedAt = run.startedAt;
    const h = await this.host();
    if (!existsSync(p.exit) && (await this.alive(run))) {
      return { ...base, state: 'running', pid: run.pid ?? (await this.readPid(p.pid)) };
    }
    const oomKilled = (await this.cgroup(h, id).oomKills()) > run.oomBaseline;
    const code = await readFile(p.exit, 'utf8').catch(() => undefined);
    const finished = await stat(p.exit).catch(() => undefined);
    return {
      ...base,
      state: 'exited',
      exitCode: code === undefined ? undefined : Number(code.trim()),
      oomKilled,
      finishedAt: finished?.mtime.toISOString(),
    };
  }

  async list(): Promise<WorkloadStatus[]> {
    const ids = await readdir(join(this.opts.stateDir, 'workloads')).catch(() => [] as string[]);
    const out: WorkloadStatus[] = [];
    for (const id of ids.sort()) {
      const s = await this.inspect(id);
      if (s) out.push(s);
    }
    return out;
  }

  logPath(id: string): string {
    return this.paths(id).log;
  }

  async readLog(id: string, opts: LogReadOptions = {}): Promise<string> {
    await this.record(id);
    return readTail(this.paths(id).log, opts.tailBytes);
  }

  async stats(id: string): Promise<WorkloadStats> {
    const h = await this.ready();
    await this.record(id);
    return this.cgroup(h, id).stats();
  }

  // ---- optional abilities ------------------------------------------------

  async resize(id: string, limits: WorkloadLimits): Promise<void> {
    validateLimits(limits);
    const h = await this.ready();
    const rec = await this.record(id);
    const merged = { ...rec.limits, ...limits };
    await this.cgroup(h, id).apply(merged);
    rec.limits = merged;
    await this.writeJson(this.paths(id).record, rec);
  }

  async exec(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const h = await this.ready();
    const rec = await this.record(id);
    if (argv.length === 0) throw new YunError('ValidationFailed', 'exec needs a command', { field: '/argv' });
    if ((await this.inspect(id))?.state !== 'running') throw new YunError('InvalidState', `workload ${id} is not running`);
    const args = ['exec'];
    for (const e of envList({ ...rec.spec.env, ...opts.env })) args.push('--env', e);
    args.push('--cwd', opts.workingDir ?? rec.spec.workingDir ?? '/');
    args.push('--', this.native(id), ...argv);
    const r = await h.cli.call(args, { input: opts.stdin, timeoutMs: opts.timeoutMs ?? 60_000 });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code };
  }
}

/** Factory used by the registry. */
export const createOciDriver = (opts: OciDriverOptions) => new OciDriver(opts);
