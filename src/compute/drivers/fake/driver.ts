/**
 * In-memory fake compute driver for fast controller tests. It passes the
 * same contract suite as the real drivers.
 *
 * What it cannot do: it runs nothing. Commands are emulated from a tiny
 * vocabulary: `echo ARGS…` (prints, exits 0), `env`, `printenv NAME…`,
 * `sh -c 'exit N'` (exits N), `sleep N` (exits 0 after N seconds), `true`,
 * `false`; anything else "runs" until stopped. Workloads whose environment
 * has `FAKE_IGNORE_SIGTERM=1` only die on SIGKILL. `FakeHost.oomKill(id)`
 * simulates the kernel OOM killer.
 *
 * All state lives in a `FakeHost` passed in the options: a second driver
 * built on the same host object behaves like a control plane restarted on
 * the same state directory (it adopts what is running).
 */
import { YunError, notFound } from '../../../core/errors.ts';
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

interface FakeWorkload {
  spec: WorkloadSpec;
  status: WorkloadStatus;
  log: string;
  timer?: NodeJS.Timeout;
}

/** The simulated host: one per simulated machine (or state directory). */
export class FakeHost {
  readonly workloads = new Map<string, FakeWorkload>();
  private nextPid = 1000;
  /** Every driver call, for tests that assert on actions. */
  readonly calls: string[] = [];

  allocatePid(): number {
    return this.nextPid++;
  }

  /** Simulate the kernel OOM killer hitting a running workload. */
  oomKill(id: string): void {
    const w = this.workloads.get(id);
    if (w?.status.state !== 'running') return;
    w.status.oomKilled = true;
    exitWorkload(w, 137);
  }

  /** Stop all timers (call from test teardown). */
  shutdown(): void {
    for (const w of this.workloads.values()) if (w.timer) clearTimeout(w.timer);
  }
}

function exitWorkload(w: FakeWorkload, code: number) {
  if (w.timer) clearTimeout(w.timer);
  w.timer = undefined;
  w.status = { ...w.status, state: 'exited', exitCode: code, pid: undefined, finishedAt: new Date().toISOString() };
}

/** Emulate `argv`: output and exit code, or `undefined` exit for "runs until stopped". */
function emulate(argv: string[], env: Record<string, string>): { out: string; code?: number; afterMs?: number } {
  const [cmd = '', ...args] = argv;
  const base = cmd.split('/').pop();
  if (base === 'echo') return { out: `${args.join(' ')}\n`, code: 0 };
  if (base === 'printenv') return { out: args.map((a) => (env[a] !== undefined ? `${env[a]}\n` : '')).join(''), code: args.every((a) => a in env) ? 0 : 1 };
  if (base === 'env' && args.length === 0) return { out: Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''), code: 0 };
  if (base === 'true') return { out: '', code: 0 };
  if (base === 'false') return { out: '', code: 1 };
  if (base === 'sh' && args[0] === '-c') {
    const m = /^\s*exit\s+(\d+)\s*$/.exec(args[1] ?? '');
    if (m) return { out: '', code: Number(m[1]) };
  }
  if (base === 'sleep' && args.length === 1 && /^\d+(\.\d+)?$/.test(args[0]!)) return { out: '', code: 0, afterMs: Number(args[0]) * 1000 };
  return { out: '' };
}

export interface FakeDriverOptions {
  host: FakeHost;
  /** Override the reported capabilities (e.g. to test scheduler filtering). */
  capabilities?: Partial<ComputeCapabilities>;
}

export class FakeDriver implements ComputeDriver, LiveResizable, Execable {
  readonly name = 'fake';
  private readonly host: FakeHost;
  constructor(private readonly opts: FakeDriverOptions) {
    this.host = opts.host;
  }

  private get(id: string): FakeWorkload {
    const w = this.host.workloads.get(id);
    if (!w) throw notFound('workload', id);
    return w;
  }

  async capabilities(): Promise<ComputeCapabilities> {
    return {
      available: true,
      backend: 'fake (in-memory)',
      isolation: { pid: true, mount: true, uts: true, ipc: true, net: true, cgroups: true, rootfs: true, capabilities: true, seccomp: true },
      enforces: { cpus: true, memory: true, pids: true },
      liveResize: true,
      exec: true,
      oomDetection: true,
      netns: true,
      writableLayer: 'overlay',
      ...this.opts.capabilities,
    };
  }

  async create(spec: WorkloadSpec): Promise<void> {
    this.host.calls.push(`create ${spec.id}`);
    validateWorkloadSpec(spec);
    if (this.host.workloads.has(spec.id)) return;
    const status: WorkloadStatus = { id: spec.id, state: 'created', oomKilled: false, createdAt: new Date().toISOString(), limits: { ...spec.limits } };
    this.host.workloads.set(spec.id, { spec: structuredClone(spec), status, log: '' });
  }

  async start(id: string): Promise<void> {
    this.host.calls.push(`start ${id}`);
    const w = this.get(id);
    if (w.status.state === 'running') return;
    const env = { PATH: '/usr/bin:/bin', ...w.spec.env };
    const r = emulate(w.spec.command, env);
    w.status = { ...w.status, state: 'running', pid: this.host.allocatePid(), startedAt: new Date().toISOString(), oomKilled: false };
    delete w.status.exitCode;
    delete w.status.finishedAt;
    w.log += r.out;
    // setTimeout fires at once past 2^31-1 ms: a sleep that long (the controller's default command) runs until stopped
    if (r.code !== undefined && (r.afterMs ?? 0) <= 2 ** 31 - 1) {
      const code = r.code;
      w.timer = setTimeout(() => exitWorkload(w, code), r.afterMs ?? 0);
      w.timer.unref();
    }
  }

  async stop(id: string, opts: StopOptions = {}): Promise<void> {
    this.host.calls.push(`stop ${id}`);
    const w = this.get(id);
    if (w.status.state !== 'running') return;
    const ignoresTerm = w.spec.env?.FAKE_IGNORE_SIGTERM === '1';
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (timeoutMs > 0 && !ignoresTerm) return exitWorkload(w, 143);
    if (timeoutMs > 0) await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 50)));
    exitWorkload(w, 137);
  }

  async delete(id: string): Promise<void> {
    this.host.calls.push(`delete ${id}`);
    const w = this.host.workloads.get(id);
    if (!w) return;
    if (w.timer) clearTimeout(w.timer);
    this.host.workloads.delete(id);
  }

  async inspect(id: string): Promise<WorkloadStatus | undefined> {
    const w = this.host.workloads.get(id);
    return w ? structuredClone(w.status) : undefined;
  }

  async list(): Promise<WorkloadStatus[]> {
    return [...this.host.workloads.keys()].sort().map((id) => structuredClone(this.host.workloads.get(id)!.status));
  }

  logPath(id: string): string {
    return `/fake/workloads/${id}/console.log`;
  }

  async readLog(id: string, opts: LogReadOptions = {}): Promise<string> {
    const log = this.get(id).log;
    return opts.tailBytes !== undefined ? Buffer.from(log).subarray(-opts.tailBytes).toString('utf8') : log;
  }

  async stats(id: string): Promise<WorkloadStats> {
    const w = this.get(id);
    return { cpuSeconds: 0, memoryBytes: 0, pids: w.status.state === 'running' ? 1 : 0 };
  }

  async resize(id: string, limits: WorkloadLimits): Promise<void> {
    this.host.calls.push(`resize ${id}`);
    validateLimits(limits);
    const w = this.get(id);
    w.status.limits = { ...w.status.limits, ...limits };
  }

  async exec(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const w = this.get(id);
    if (w.status.state !== 'running') throw new YunError('InvalidState', `workload ${id} is not running`);
    const r = emulate(argv, { PATH: '/usr/bin:/bin', ...w.spec.env, ...opts.env });
    return { stdout: r.out, stderr: '', exitCode: r.code ?? 0 };
  }
}

export const createFakeDriver = (opts: FakeDriverOptions) => new FakeDriver(opts);
