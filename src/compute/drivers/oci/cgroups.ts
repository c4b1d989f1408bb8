/**
 * The per-workload cgroup the oci driver owns.
 *
 * Limits are NOT put in the OCI config. They live on a parent cgroup the
 * driver creates itself (`yun/<scope>/<id>`); the runtime makes its own leaf
 * (`.../ctr`) below it. Reasons: the parent outlives every run of the
 * container (the runtime's leaf is recreated on each start), so limits
 * changed by a live resize stay in force, usage accumulates across runs,
 * and a resize is one plain write that works the same for crun and runc.
 * Kernel cgroup limits are hierarchical, so the leaf is bound by them.
 *
 * v1 (including "hybrid") and v2 layouts are handled; v2 is written to the
 * kernel documentation but was only exercised on v1 hosts so far.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { WorkloadLimits, WorkloadStats } from '../types.ts';

export type CgroupLayout = 'v1' | 'hybrid' | 'v2' | 'none';

const ROOT = '/sys/fs/cgroup';
const PERIOD_US = 100_000;
const V1_OWNED = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio'] as const;

export function detectCgroupLayout(root = ROOT): CgroupLayout {
  if (existsSync(join(root, 'cgroup.controllers'))) return 'v2';
  if (!existsSync(join(root, 'memory', 'memory.limit_in_bytes'))) return 'none';
  return existsSync(join(root, 'unified', 'cgroup.controllers')) ? 'hybrid' : 'v1';
}

export class WorkloadCgroup {
  /** `rel` is the cgroup path relative to each hierarchy root, e.g. `yun/ab12cd34/i-x`. */
  constructor(
    readonly layout: CgroupLayout,
    readonly rel: string,
    private readonly root = ROOT,
  ) {}

  /** cgroupsPath for the runtime's leaf, below the limits-carrying parent. */
  get leafPath(): string {
    return `/${this.rel}/ctr`;
  }

  private v1(ctrl: string, file?: string): string {
    return file ? join(this.root, ctrl, this.rel, file) : join(this.root, ctrl, this.rel);
  }

  private v2(file?: string): string {
    return file ? join(this.root, this.rel, file) : join(this.root, this.rel);
  }

  /** Create the parent cgroup(s) and apply `limits`. Idempotent. */
  async setup(limits: WorkloadLimits): Promise<void> {
    if (this.layout === 'v2') {
      const parts = this.rel.split('/');
      for (let i = 0; i < parts.length; i++) {
        const dir = join(this.root, ...parts.slice(0, i));
        await writeFile(join(dir, 'cgroup.subtree_control'), '+cpu +memory +pids +io').catch(() => {});
        await mkdir(join(dir, parts[i]!), { recursive: true });
      }
      await writeFile(this.v2('cgroup.subtree_control'), '+cpu +memory +pids +io').catch(() => {});
    } else {
      for (const c of V1_OWNED) if (existsSync(join(this.root, c))) await mkdir(this.v1(c), { recursive: true });
    }
    await this.apply(limits);
  }

  /** Write limits; fields left undefined are set to "unlimited". */
  async apply(limits: WorkloadLimits): Promise<void> {
    const quota = limits.cpus === undefined ? -1 : Math.max(1000, Math.round(limits.cpus * PERIOD_US));
    const mem = limits.memoryMb === undefined ? undefined : limits.memoryMb * 1024 * 1024;
    if (this.layout === 'v2') {
      await writeFile(this.v2('cpu.max'), `${quota < 0 ? 'max' : quota} ${PERIOD_US}`);
      await writeFile(this.v2('memory.max'), mem === undefined ? 'max' : String(mem));
      await writeFile(this.v2('memory.swap.max'), mem === undefined ? 'max' : '0').catch(() => {});
      await writeFile(this.v2('pids.max'), limits.pids === undefined ? 'max' : String(limits.pids));
      return;
    }
    await writeFile(this.v1('cpu', 'cpu.cfs_period_us'), String(PERIOD_US));
    await writeFile(this.v1('cpu', 'cpu.cfs_quota_us'), String(quota));
    await this.applyMemoryV1(mem);
    await writeFile(this.v1('pids', 'pids.max'), limits.pids === undefined ? 'max' : String(limits.pids));
  }

  /** v1 needs memsw >= limit at every step: raise memsw first, lower it last. */
  private async applyMemoryV1(mem: number | undefined): Promise<void> {
    const limit = this.v1('memory', 'memory.limit_in_bytes');
    const memsw = this.v1('memory', 'memory.memsw.limit_in_bytes');
    const value = mem === undefined ? '-1' : String(mem);
    if (!existsSync(memsw)) return writeFile(limit, value);
    const current = Number((await readFile(limit, 'utf8')).trim());
    if (mem === undefined || mem > current) {
      await writeFile(memsw, value);
      await writeFile(limit, value);
    } else {
      await writeFile(limit, value);
      await writeFile(memsw, value);
    }
  }

  /** Limits as the kernel has them now (undefined = unlimited). */
  async readLimits(): Promise<WorkloadLimits> {
    const out: WorkloadLimits = {};
    if (this.layout === 'v2') {
      const [q, p] = (await readFile(this.v2('cpu.max'), 'utf8')).trim().split(' ');
      if (q !== 'max') out.cpus = Number(q) / Number(p);
      const m = (await readFile(this.v2('memory.max'), 'utf8')).trim();
      if (m !== 'max') out.memoryMb = Math.floor(Number(m) / 1048576);
    } else {
      const q = Number((await readFile(this.v1('cpu', 'cpu.cfs_quota_us'), 'utf8')).trim());
      const p = Number((await readFile(this.v1('cpu', 'cpu.cfs_period_us'), 'utf8')).trim());
      if (q > 0) out.cpus = q / p;
      const m = BigInt((await readFile(this.v1('memory', 'memory.limit_in_bytes'), 'utf8')).trim());
      if (m < 1n << 60n) out.memoryMb = Number(m / 1048576n);
    }
    const pids = (await readFile(this.layout === 'v2' ? this.v2('pids.max') : this.v1('pids', 'pids.max'), 'utf8')).trim();
    if (pids !== 'max') out.pids = Number(pids);
    return out;
  }

  /**
   * OOM kills in this workload since its cgroups were made. The kernel
   * counts a kill on the victim's own cgroup (the runtime's leaf), so the
   * leaf is read as well as the parent.
   */
  async oomKills(): Promise<number> {
    let total = 0;
    for (const rel of [this.rel, `${this.rel}/ctr`]) {
      try {
        const text =
          this.layout === 'v2'
            ? await readFile(join(this.root, rel, 'memory.events'), 'utf8')
            : await readFile(join(this.root, 'memory', rel, 'memory.oom_control'), 'utf8');
        total += Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
      } catch {}
    }
    return total;
  }

  async stats(): Promise<WorkloadStats> {
    const num = async (p: string) => {
      try {
        return Number((await readFile(p, 'utf8')).trim().split(/\s+/)[0]);
      } catch {
        return 0;
      }
    };
    if (this.layout === 'v2') {
      const cpu = await readFile(this.v2('cpu.stat'), 'utf8').catch(() => '');
      const io = await readFile(this.v2('io.stat'), 'utf8').catch(() => '');
      const sum = (k: string) => [...io.matchAll(new RegExp(`${k}=(\\d+)`, 'g'))].reduce((a, m) => a + Number(m[1]), 0);
      return {
        cpuSeconds: Number(/^usage_usec (\d+)/m.exec(cpu)?.[1] ?? 0) / 1e6,
        memoryBytes: await num(this.v2('memory.current')),
        memoryPeakBytes: (await num(this.v2('memory.peak'))) || undefined,
        pids: await num(this.v2('pids.current')),
        blockReadBytes: sum('rbytes'),
        blockWriteBytes: sum('wbytes'),
      };
    }
    const io = await readFile(this.v1('blkio', 'blkio.throttle.io_service_bytes_recursive'), 'utf8').catch(() => '');
    const sum = (op: string) => [...io.matchAll(new RegExp(`^\\S+ ${op} (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    return {
      cpuSeconds: (await num(this.v1('cpuacct', 'cpuacct.usage'))) / 1e9,
      memoryBytes: await num(this.v1('memory', 'memory.usage_in_bytes')),
      memoryPeakBytes: await num(this.v1('memory', 'memory.max_usage_in_bytes')),
      pids: await num(this.v1('pids', 'pids.current')),
      blockReadBytes: sum('Read'),
      blockWriteBytes: sum('Write'),
    };
  }

  /**
   * Remove the parent and any leftover leaf in every hierarchy. The caller
   * has already made sure no process is left. Missing directories are fine.
   */
  async remove(): Promise<void> {
    const dirs: string[] = [];
    if (this.layout === 'v2') dirs.push(this.v2());
    else {
      const ctrls = await readdir(this.root).catch(() => [] as string[]);
      for (const c of ctrls) if (c !== 'unified') dirs.push(join(this.root, c, this.rel));
    }
    for (const d of dirs) {
      for (const leaf of [join(d, 'ctr'), d]) {
        try {
          await rmdir(leaf);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
        }
      }
      // The per-driver scope directory goes when its last workload does.
      await rmdir(dirname(d)).catch(() => {});
    }
  }
}
