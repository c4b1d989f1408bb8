/**
 * Resize decisions shared by the API (refuse before any side effect), the
 * controller (live, or stop-resize-start) and drivers (refuse what they
 * cannot do live). Pure: unit-tested without a workload.
 */
import type { LiveResizeRange, WorkloadLimits } from './types.ts';

/** vCPUs a VM gets for a `cpus` limit: fractions round up, unset means 1. */
export const vcpusFor = (cpus: number | undefined): number => Math.max(1, Math.ceil(cpus ?? 1));

/**
 * Why `want` cannot be applied live to a running workload whose live range
 * is `range`; undefined when it can. Memory left unset is not a change.
 */
export function liveResizeBlocker(range: LiveResizeRange, want: WorkloadLimits): string | undefined {
  const why: string[] = [];
  const vcpus = vcpusFor(want.cpus);
  const maxVcpus = range.maxVcpus ?? range.vcpus;
  if (vcpus < range.vcpus) why.push(`the vCPU count changes (${range.vcpus} → ${vcpus}) and vCPUs are not removed while it runs`);
  else if (vcpus > maxVcpus) {
    why.push(`the vCPU count changes (${range.vcpus} → ${vcpus}) and ${maxVcpus > range.vcpus ? `only up to ${maxVcpus} are hot-plugged` : 'vCPUs are not hot-plugged'}`);
  }
  const mem = want.memoryMb;
  if (mem !== undefined && mem > range.maxMemoryMb) {
    why.push(`memory above the ${range.maxMemoryMb} MiB it was started with is only added at a start`);
  } else if (mem !== undefined && mem < range.minMemoryMb) {
    why.push(`memory is not taken below ${range.minMemoryMb} MiB while it runs`);
  }
  return why.length ? why.join('; ') : undefined;
}

/** Limits equal in every field the controller manages. */
export const sameLimits = (a: WorkloadLimits, b: WorkloadLimits): boolean =>
  a.cpus === b.cpus && a.memoryMb === b.memoryMb && a.pids === b.pids && a.rootDiskGb === b.rootDiskGb;
