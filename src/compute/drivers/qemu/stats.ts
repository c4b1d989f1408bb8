import { readFile } from 'node:fs/promises';
import type { WorkloadStats } from '../types.ts';
import { withQmp } from './qmp.ts';

const CLK_TCK = 100;

/** CPU time and memory of the QEMU process from /proc; guest disk I/O from QMP query-blockstats. */
export async function qemuStats(pid: number, qmpSocket: string): Promise<WorkloadStats> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
  const io = await withQmp(qmpSocket, (q) => q.execute<Array<{ stats: { rd_bytes: number; wr_bytes: number } }>>('query-blockstats')).catch(() => []);
  return {
    cpuSeconds,
    memoryBytes: kb('VmRSS'),
    memoryPeakBytes: kb('VmHWM'),
    pids: threads,
    blockReadBytes: io.reduce((s, d) => s + d.stats.rd_bytes, 0),
    blockWriteBytes: io.reduce((s, d) => s + d.stats.wr_bytes, 0),
  };
}
