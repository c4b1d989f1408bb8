import { withQmp } from './qmp.ts';

interface HotpluggableCpu { type: string; props: Record<string, number>; 'qom-path'?: string }

/**
 * Plugs vCPUs into a running QEMU (started with `maxcpus` above its count)
 * until it has `count`: QMP `device_add` of the free slots that
 * `query-hotpluggable-cpus` lists, lowest first. The guest brings them online
 * (tiny-vm's init does; distro images through udev). Returns the count now.
 */
export async function plugVcpus(qmpSocket: string, count: number): Promise<number> {
  return withQmp(qmpSocket, async (q) => {
    const slots = await q.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
    const used = slots.filter((s) => s['qom-path']).length;
    const free = slots.filter((s) => !s['qom-path'])
      .sort((a, b) => (a.props['socket-id'] ?? 0) - (b.props['socket-id'] ?? 0) || (a.props['core-id'] ?? 0) - (b.props['core-id'] ?? 0) || (a.props['thread-id'] ?? 0) - (b.props['thread-id'] ?? 0));
    const add = free.slice(0, Math.max(0, count - used));
    for (const s of add) {
      const id = `vcpu-s${s.props['socket-id'] ?? 0}-c${s.props['core-id'] ?? 0}-t${s.props['thread-id'] ?? 0}`;
      await q.execute('device_add', { driver: s.type, id, ...s.props });
    }
    return used + add.length;
  });
}
