/**
 * What a resource costs per second while it stays as it is. The collector
 * follows the event log: whenever a resource's rates change (it starts,
 * stops, is resized or deleted) the interval so far is closed into usage
 * records, so time is measured between real state transitions.
 *
 * Reads only the resource's own spec/status/labels from the event object.
 */
import type { Resource } from '../core/resource.ts';

export interface Rate {
  sku: string;
  /** Base units per second (e.g. milli-vCPUs, MiB, GB, replicas). */
  perSecond: number;
}

/** Kinds the collector follows. */
export const METERED_KINDS = ['instance', 'load-balancer', 'volume'] as const;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** `vm` for QEMU-backed instances, `container` for OCI/process ones. */
export function runtimeOf(status: Record<string, unknown>): 'vm' | 'container' {
  return status.driver === 'qemu' ? 'vm' : 'container';
}

export function ratesFor(r: Resource | undefined): Rate[] {
  if (!r || r.deletionTimestamp) return [];
  const spec = r.spec as Record<string, unknown>;
  const status = r.status as Record<string, unknown>;
  switch (r.kind) {
    case 'instance': {
      const size = (spec.size ?? {}) as Record<string, unknown>;
      const vcpus = num(size.vcpus) ?? num(spec.cpus) ?? 0;
      const ramMb = num(size.ramMb) ?? num(spec.memoryMb) ?? 0;
      const diskGb = num(size.diskGb) ?? num(spec.diskGb) ?? 0;
      if (status.state === 'running') {
        const rt = runtimeOf(status);
        const out: Rate[] = [
          { sku: `compute.vcpu:${rt}`, perSecond: Math.round(vcpus * 1000) },
          { sku: `compute.memory:${rt}`, perSecond: ramMb },
        ];
        if (r.labels.app) out.push({ sku: 'apps.replica', perSecond: 1 });
        return out.filter((x) => x.perSecond > 0);
      }
      if ((status.state === 'stopped' || status.state === 'exited') && diskGb > 0) return [{ sku: 'compute.stopped_disk', perSecond: diskGb }];
      return [];
    }
    case 'load-balancer':
      return status.state === 'failed' ? [] : [{ sku: 'network.lb', perSecond: 1 }];
    case 'volume': {
      const gb = num(spec.sizeGb) ?? num(spec.size) ?? 0;
      const type = typeof spec.type === 'string' ? spec.type : 'file';
      return gb > 0 && status.state !== 'error' ? [{ sku: `volume.storage:${type}`, perSecond: gb }] : [];
    }
    default:
      return [];
  }
}

/** Quantity for `perSecond` over `ms` milliseconds, rounded half up. */
export const quantityFor = (perSecond: number, ms: number): bigint => (BigInt(perSecond) * BigInt(ms) * 2n + 1000n) / 2000n;
