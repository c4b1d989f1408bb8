import { waitFor } from '../host.ts';
import { withQmp } from './qmp.ts';

const MiB = 1024 * 1024;

/**
 * Lowest memory a running VM is ballooned to: below it a guest kernel
 * starves (smaller sizes are given at a start instead).
 */
export const BALLOON_FLOOR_MB = 64;

/** The guest's current memory in bytes (QMP query-balloon `actual`). */
export async function balloonActual(qmpSocket: string): Promise<number> {
  return (await withQmp(qmpSocket, (q) => q.execute<{ actual: number }>('query-balloon'))).actual;
}

/**
 * Sets the guest's memory target (QMP `balloon`, bytes; QEMU caps it at the
 * boot size) and waits up to `waitMs` for the guest's balloon driver to get
 * there. Returns the memory the guest has then: a guest without a
 * virtio_balloon driver (or a slow one) keeps more, and QEMU goes on asking.
 */
export async function setBalloon(qmpSocket: string, memoryMb: number, waitMs: number): Promise<number> {
  const target = memoryMb * MiB;
  await withQmp(qmpSocket, (q) => q.execute('balloon', { value: target }));
  let actual = 0;
  await waitFor(async () => {
    actual = await balloonActual(qmpSocket);
    return Math.abs(actual - target) < MiB;
  }, waitMs, 200);
  return actual;
}
