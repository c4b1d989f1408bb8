/**
 * The fake driver with a VM's resize rules, for controller and console
 * tests that need a VM's live range without booting one: memory changes
 * live between 64 MiB and what it started with, the vCPU count only at a
 * start; anything while stopped. What it cannot do: everything the fake
 * cannot (it runs nothing).
 */
import { vcpusFor } from '../resize.ts';
import type { LiveResizeRange, WorkloadStatus } from '../types.ts';
import { FakeDriver } from './driver.ts';

export class VmLikeFake extends FakeDriver {
  private readonly booted = new Map<string, LiveResizeRange>();
  private range = (w: WorkloadStatus): LiveResizeRange => ({ vcpus: vcpusFor(w.limits.cpus), minMemoryMb: 64, maxMemoryMb: w.limits.memoryMb ?? 256 });

  override async start(id: string): Promise<void> {
    const was = await super.inspect(id);
    await super.start(id);
    if (was && was.state !== 'running') this.booted.set(id, this.range(was));
  }

  override async inspect(id: string): Promise<WorkloadStatus | undefined> {
    const w = await super.inspect(id);
    return w && { ...w, liveResize: (w.state === 'running' && this.booted.get(id)) || this.range(w) };
  }
}
