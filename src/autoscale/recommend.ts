/**
 * Rightsizing: a suggested flavor from observed usage over a window.
 * CPU: the 95th percentile of each member's cpu_percent (of its current
 * allocation), the highest member, turned into cores; memory: the highest
 * memory_bytes seen. The suggestion is the smallest flavor (fewest vCPUs,
 * then least RAM) with 30 % headroom over both; `keep` when that is the
 * current size. Without samples in the window the answer says so instead
 * of guessing.
 */
import type { FlavorSpec } from '../compute/flavors.ts';
import { notFound } from '../core/errors.ts';
import { instant } from '../monitor/query.ts';
import type { TimeSeriesStore } from '../monitor/tsdb.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { GROUP_KIND } from './groups.ts';

export interface Recommendation {
  target: string;
  windowSeconds: number;
  samples: number;
  current: { flavor?: string; vcpus: number; ramMb: number };
  observed?: { cpuP95Percent: number; cpuP95Cores: number; memoryMaxBytes: number };
  suggested?: { flavor: string; vcpus: number; ramMb: number };
  change: 'downsize' | 'upsize' | 'keep' | 'insufficient-data';
  reason: string;
}

const HEADROOM = 1.3;

/** Instances carry the resolved `size`; apps and groups a flavor or cpus/memoryMb (a group's `size` is its member count). */
interface Sized { flavor?: string; cpus?: number; memoryMb?: number; size?: { vcpus: number; ramMb: number } | number }

export async function recommend(q: Sql, db: TimeSeriesStore, project: string, target: string, windowMs: number, now = Date.now()): Promise<Recommendation> {
  const [kindWord, name] = target.includes('/') ? target.split('/', 2) as [string, string] : ['app', target];
  const kind = kindWord === 'group' ? GROUP_KIND : kindWord === 'instance' ? 'instance' : 'app';
  const label = kind === GROUP_KIND ? 'group' : kind === 'instance' ? 'instance' : 'app';
  const res = new Resources(q);
  const r = await res.get<Sized>(kind, project, name);
  if (!r) throw notFound(kind, name);
  const flavors = (await res.all<FlavorSpec>('flavor', '_system')).filter((f) => !f.spec.projects);
  const resolved = typeof r.spec.size === 'object' ? r.spec.size : undefined;
  const cur = resolved ?? (r.spec.flavor ? flavors.find((f) => f.name === r.spec.flavor)?.spec : undefined) ?? { vcpus: r.spec.cpus ?? 0.25, ramMb: r.spec.memoryMb ?? 128 };
  const current = { flavor: r.spec.flavor, vcpus: cur.vcpus, ramMb: cur.ramMb };
  const win = `${Math.round(windowMs / 1000)}s`;
  const sel = `{${label}="${name}"}`;
  const o = { lookbackMs: windowMs, restrict: { project } };
  const cpu = instant(db, `quantile_over_time(0.95, cpu_percent${sel}[${win}])`, now, o).map((x) => x.value);
  const mem = instant(db, `max_over_time(memory_bytes${sel}[${win}])`, now, o).map((x) => x.value);
  const samples = instant(db, `count_over_time(memory_bytes${sel}[${win}])`, now, o).reduce((a, x) => a + x.value, 0);
  const base = { target: `${label}/${name}`, windowSeconds: windowMs / 1000, samples, current };
  if (!cpu.length || !mem.length || samples < 3) return { ...base, change: 'insufficient-data', reason: `fewer than 3 samples of ${label}/${name} in the last ${win}` };
  const cpuP95Percent = Math.max(...cpu);
  const cpuP95Cores = (cpuP95Percent / 100) * current.vcpus;
  const memoryMaxBytes = Math.max(...mem);
  const needCores = cpuP95Cores * HEADROOM;
  const needMb = (memoryMaxBytes / 1024 / 1024) * HEADROOM;
  const fits = flavors.filter((f) => f.spec.vcpus >= needCores && f.spec.ramMb >= needMb)
    .sort((a, b) => a.spec.vcpus - b.spec.vcpus || a.spec.ramMb - b.spec.ramMb);
  const observed = { cpuP95Percent: round(cpuP95Percent), cpuP95Cores: round(cpuP95Cores), memoryMaxBytes: Math.round(memoryMaxBytes) };
  const best = fits[0];
  if (!best) return { ...base, observed, change: 'upsize', reason: `no flavor has ${round(needCores)} vCPU and ${Math.ceil(needMb)} MiB (usage + 30 % headroom)` };
  const suggested = { flavor: best.name, vcpus: best.spec.vcpus, ramMb: best.spec.ramMb };
  const cmp = Math.sign(best.spec.vcpus - current.vcpus) || Math.sign(best.spec.ramMb - current.ramMb);
  // An ad-hoc size smaller than every flavor that already fits: nothing smaller to suggest.
  if (cmp > 0 && current.vcpus >= needCores && current.ramMb >= needMb) {
    return { ...base, observed, change: 'keep', reason: `the current ${current.vcpus} vCPU / ${current.ramMb} MiB fits p95 CPU ${observed.cpuP95Cores} cores and peak memory ${Math.ceil(memoryMaxBytes / 1048576)} MiB with 30 % headroom; no flavor is smaller` };
  }
  const change = best.name === current.flavor || cmp === 0 ? 'keep' : cmp < 0 ? 'downsize' : 'upsize';
  const reason = `p95 CPU ${observed.cpuP95Cores} cores (${observed.cpuP95Percent} % of ${current.vcpus}), peak memory ${Math.ceil(memoryMaxBytes / 1048576)} MiB over ${win}; ${best.name} fits with 30 % headroom`;
  return { ...base, observed, suggested, change, reason };
}

const round = (v: number) => Math.round(v * 1000) / 1000;
