/**
 * The process compute driver: a workload is a supervised host process, for
 * machines without root or without an OCI runtime.
 *
 * What it cannot do (its capabilities say so): NO namespaces of any kind
 * (the workload sees the host's processes, filesystem, network and
 * hostname; `imageRootfs`, `hostname` and `netnsPath` are ignored), no
 * cgroups: `cpus` is not enforced, `memoryMb` is an RLIMIT_DATA (heap and
 * private mappings, not a true memory limit), `pids` is RLIMIT_NPROC which
 * counts every process of the user and is ignored for root. No OOM
 * detection, no exec, no live resize. A child that calls setsid() leaves
 * the workload's process group and escapes `stop`.
 *
 * What it does: each workload gets a directory `<stateDir>/workloads/<id>/`
 * with `root/` as its working directory (injected files land under it, e.g.
 * `root/run/yun/meta_data.json`; `YUN_ROOT` points there). `start` spawns
 * supervise.sh detached (own session and process group) with the command
 * under `prlimit`, stdout/stderr appended to console.log; the exit status
 * is written to a file, so it survives a control-plane restart. A new
 * driver on the same stateDir adopts running workloads by pid + kernel
 * start time.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { YunError, notFound } from '../../../core/errors.ts';
import { DEFAULT_PATH } from '../oci/bundle.ts';
import { injectFiles } from '../inject.ts';
import { KeyedSerializer, isSameProcessAlive, processStartTime, readTail, waitFor } from '../host.ts';
import type {
  ComputeCapabilities,
  ComputeDriver,
  LogReadOptions,
  StopOptions,
  WorkloadLimits,
  WorkloadSpec,
  WorkloadStats,
  WorkloadStatus,
} from '../types.ts';
import { validateWorkloadSpec } from '../validate.ts';

const SUPERVISE_SH = fileURLToPath(new URL('../supervise.sh', import.meta.url));
const INIT_SH = fileURLToPath(new URL('./init.sh', import.meta.url));

export interface ProcessDriverOptions {
  stateDir: string;
  /** prlimit binary (util-linux). Default /usr/bin/prlimit. */
  prlimit?: string;
}

interface WorkloadRecord {
  spec: WorkloadSpec;
  limits: WorkloadLimits;
  createdAt: string;
}
interface RunRecord {
  startedAt: string;
  /** The supervisor: session and process-group leader of the workload. */
  pgid: number;
  pgidStart: string;
  /** The workload's main process (the supervisor's child). */
  pid?: number;
}

const CLK_TCK = 100;
const PAGE = 4096;

export class ProcessDriver implements ComputeDriver {
  private readonly serial = new KeyedSerializer();
  readonly name = 'process';
  constructor(private readonly opts: ProcessDriverOptions) {}

  async capabilities(): Promise<ComputeCapabilities> {
    const prlimit = existsSync(this.prlimit());
    return {
      available: prlimit,
      ...(prlimit ? {} : { reason: `${this.prlimit()} not found (util-linux)` }),
      backend: 'process (prlimit, no isolation)',
      isolation: { pid: false, mount: false, uts: false, ipc: false, net: false, cgroups: false, rootfs: false, capabilities: false, seccomp: false },
      enforces: { cpus: false, memory: true, pids: process.getuid?.() !== 0 },
      liveResize: false,
      exec: false,
      oomDetection: false,
      netns: false,
      writableLayer: 'none',
    };
  }

  private prlimit() {
    return this.opts.prlimit ?? '/usr/bin/prlimit';
  }
  private paths(id: string) {
    const dir = join(this.opts.stateDir, 'workloads', id);
    return { dir, record: join(dir, 'workload.json'), run: join(dir, 'run.json'), exit: join(dir, 'exit'), log: join(dir, 'console.log'), root: join(dir, 'root') };
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

  create(spec: WorkloadSpec): Promise<void> {
    return this.serial.run(spec.id, () => this.createNow(spec));
  }

  private async createNow(spec: WorkloadSpec): Promise<void> {
    validateWorkloadSpec(spec);
    const p = this.paths(spec.id);
    if (existsSync(p.record)) return;
    try {
      await mkdir(p.root, { recursive: true });
      const files = [...(spec.files ?? [])];
      if (spec.userData !== undefined) files.push({ path: '/run/yun/user-data', content: spec.userData, mode: 0o755 });
      await injectFiles(p.root, files);
      if (spec.workingDir) await mkdir(join(p.root, spec.workingDir), { recursive: true });
      await writeFile(p.log, '', { flag: 'a' });
      await this.writeJson(p.record, { spec, limits: { ...spec.limits }, createdAt: new Date().toISOString() } satisfies WorkloadRecord);
    } catch (e) {
      await rm(p.dir, { recursive: true, force: true });
      throw e instanceof YunError ? e : new YunError('DriverFailed', `create ${spec.id} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private argv(rec: WorkloadRecord, root: string): string[] {
    const lim: string[] = [];
    if (rec.limits.memoryMb !== undefined) lim.push(`--data=${rec.limits.memoryMb * 1048576}`);
    if (rec.limits.pids !== undefined) lim.push(`--nproc=${rec.limits.pids}`);
    const cmd = rec.spec.userData !== undefined ? ['sh', INIT_SH, root, ...rec.spec.command] : rec.spec.command;
    return [this.prlimit(), ...lim, '--', ...cmd];
  }

  start(id: string): Promise<void> {
    return this.serial.run(id, () => this.startNow(id));
  }

  private async startNow(id: string): Promise<void> {
    const rec = await this.record(id);
    if ((await this.inspect(id))?.state === 'running') return;
    const p = this.paths(id);
    await rm(p.exit, { force: true });
    const env = { PATH: DEFAULT_PATH, HOME: p.root, YUN_ROOT: p.root, ...rec.spec.env };
    const cwd = rec.spec.workingDir ? join(p.root, rec.spec.workingDir) : p.root;
    const fd = openSync(p.log, 'a');
    let pgid: number;
    try {
      const child = spawn('sh', [SUPERVISE_SH, p.exit, '--', ...this.argv(rec, p.root)], { detached: true, stdio: ['ignore', fd, fd], env, cwd });
      child.unref();
      pgid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
    } finally {
      closeSync(fd);
    }
    const run: RunRecord = { startedAt: new Date().toISOString(), pgid, pgidStart: (await processStartTime(pgid)) ?? '' };
    run.pid = await waitFor(() => this.childOf(pgid), 2000, 2);
    await this.writeJson(p.run, run);
  }

  /** The supervisor's child, i.e. the workload's main process. */
  private async childOf(pid: number): Promise<number | undefined> {
    const t = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    const first = t.trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  }

  private async alive(run: RunRecord): Promise<boolean> {
    return isSameProcessAlive(run.pgid, run.pgidStart);
  }

  stop(id: string, opts: StopOptions = {}): Promise<void> {
    return this.serial.run(id, () => this.stopNow(id, opts));
  }

  private async stopNow(id: string, opts: StopOptions = {}): Promise<void> {
    await this.record(id);
    const p = this.paths(id);
    const run = await this.readJson<RunRecord>(p.run);
    if (!run || !(await this.alive(run))) return;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (timeoutMs > 0) {
      this.signalGroup(run.pgid, 'SIGTERM');
      if (await waitFor(async () => !(await this.alive(run)), timeoutMs, 20)) return;
    }
    this.signalGroup(run.pgid, 'SIGKILL');
    await waitFor(async () => !(await this.alive(run)), 10_000, 20);
    // SIGKILL took the supervisor too: record the status it could not.
    if (!existsSync(p.exit)) await writeFile(p.exit, '137\n');
  }

  private signalGroup(pgid: number, sig: NodeJS.Signals) {
    try {
      process.kill(-pgid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  delete(id: string): Promise<void> {
    return this.serial.run(id, () => this.deleteNow(id));
  }

  private async deleteNow(id: string): Promise<void> {
    const p = this.paths(id);
    if (!existsSync(p.dir)) return;
    if (existsSync(p.record)) await this.stopNow(id, { timeoutMs: 0 });
    await rm(p.dir, { recursive: true, force: true });
  }

  async inspect(id: string): Promise<WorkloadStatus | undefined> {
    const p = this.paths(id);
    const rec = await this.readJson<WorkloadRecord>(p.record);
    if (!rec) return undefined;
    const base: WorkloadStatus = { id, state: 'created', oomKilled: false, createdAt: rec.createdAt, limits: rec.limits };
    const run = await this.readJson<RunRecord>(p.run);
    if (!run) return base;
    base.startedAt = run.startedAt;
    if (!existsSync(p.exit) && (await this.alive(run))) return { ...base, state: 'running', pid: run.pid ?? run.pgid };
    const code = await readFile(p.exit, 'utf8').catch(() => undefined);
    const finished = await stat(p.exit).catch(() => undefined);
    return { ...base, state: 'exited', exitCode: code === undefined ? undefined : Number(code.trim()), finishedAt: finished?.mtime.toISOString() };
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

  /** Summed over the workload's process group (supervisor included), from /proc. */
  async stats(id: string): Promise<WorkloadStats> {
    await this.record(id);
    const run = await this.readJson<RunRecord>(this.paths(id).run);
    const out: WorkloadStats = { cpuSeconds: 0, memoryBytes: 0, pids: 0 };
    if (!run || !(await this.alive(run))) return out;
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== run.pgid) continue; // field 5: pgrp
      out.cpuSeconds += (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime
      out.pids += Number(f[17]); // num_threads
      out.memoryBytes += Number(f[21]) * PAGE; // rss
    }
    return out;
  }
}

export const createProcessDriver = (opts: ProcessDriverOptions) => new ProcessDriver(opts);
