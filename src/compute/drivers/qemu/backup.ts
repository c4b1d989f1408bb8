/**
 * Point-in-time copies of an attached volume while the guest runs: QMP
 * blockdev-backup from the volume's node into a target file. QEMU puts a
 * copy-before-write filter above the node, so a block the guest writes
 * during the job is copied out first: the target holds the disk as it was
 * when the job started (crash-consistent; nothing asks the guest to flush).
 *
 * QEMU serves one QMP client at a time, so the job is started on one
 * connection and then polled with short ones (`query-jobs`), leaving QMP
 * free for everything else the driver does meanwhile. Jobs are not
 * auto-dismissed, so a failure's message is still there to read.
 */
import { YunError } from '../../../core/errors.ts';
import { type QemuDrive, nodeName } from './args.ts';
import { type QmpClient, withQmp } from './qmp.ts';
import type { VolumeCopyTarget } from './types.ts';

interface JobInfo {
  id: string;
  status: string;
  error?: string;
  'current-progress'?: number;
  'total-progress'?: number;
}

export interface BackupOptions {
  /** Copy rate limit in bytes/s (QMP `speed`); default unlimited. */
  speedBytesPerSec?: number;
  /** Give up (cancel the job) after this long. Default 30 min. */
  timeoutMs?: number;
  pollMs?: number;
}

const jobId = (d: QemuDrive) => `backup-${d.name}`;
const targetNode = (d: QemuDrive) => `t-${d.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function job(q: QmpClient, id: string): Promise<JobInfo | undefined> {
  return (await q.execute<JobInfo[]>('query-jobs')).find((j) => j.id === id);
}

/** Cancels (if running) and dismisses the job, then removes the target node. Missing pieces are fine. */
async function cleanup(socket: string, d: QemuDrive, waitMs = 30_000): Promise<void> {
  const end = Date.now() + waitMs;
  for (let cancelled = false; ;) {
    const j = await withQmp(socket, (q) => job(q, jobId(d)));
    if (!j) break;
    if (j.status === 'concluded') {
      await withQmp(socket, (q) => q.execute('job-dismiss', { id: j.id }));
      break;
    }
    if (!cancelled) {
      await withQmp(socket, (q) => q.execute('job-cancel', { id: j.id }));
      cancelled = true;
    }
    if (Date.now() > end) throw new YunError('DriverFailed', `backup job ${j.id} did not stop within ${waitMs} ms`);
    await sleep(100);
  }
  await withQmp(socket, (q) => q.execute('blockdev-del', { 'node-name': targetNode(d) })).catch((e: unknown) => {
    if (!/find node|not found/i.test((e as Error).message)) throw e;
  });
}

/**
 * Copies drive `d` of the running VM on `socket` into `target` as of now
 * and returns when the copy is complete and the target closed (flushed).
 * On failure or timeout the job is cancelled and the target released; the
 * caller removes the file.
 */
export async function backupDrive(socket: string, d: QemuDrive, target: VolumeCopyTarget, o: BackupOptions = {}): Promise<void> {
  await cleanup(socket, d); // a job left by a control plane that died mid-copy
  await withQmp(socket, async (q) => {
    await q.execute('blockdev-add', {
      driver: target.format,
      'node-name': targetNode(d),
      discard: 'unmap',
      'detect-zeroes': 'unmap',
      file: { driver: 'file', filename: target.path, discard: 'unmap' },
      // a qcow2 target's backing file (the volume's own, for sync=top) is only named in its header, never opened here
      ...(target.format === 'qcow2' ? { backing: null } : {}),
    });
    await q.execute('blockdev-backup', {
      'job-id': jobId(d),
      device: nodeName(d),
      target: targetNode(d),
      sync: target.sync,
      'auto-dismiss': false,
      ...(o.speedBytesPerSec ? { speed: o.speedBytesPerSec } : {}),
    });
  }).catch(async (e: unknown) => {
    await cleanup(socket, d).catch(() => undefined);
    throw e;
  });
  const end = Date.now() + (o.timeoutMs ?? 30 * 60_000);
  let failure: Error | undefined;
  for (;;) {
    const j = await withQmp(socket, (q) => job(q, jobId(d))).catch((e: Error) => e);
    if (j instanceof Error) { failure = j; break; }
    if (!j) { failure = new YunError('DriverFailed', `backup job ${jobId(d)} vanished`); break; }
    if (j.status === 'concluded') {
      if (j.error) failure = new YunError('DriverFailed', `live copy of ${d.name} failed: ${j.error}`);
      break;
    }
    if (Date.now() > end) {
      failure = new YunError('DriverFailed', `live copy of ${d.name} did not finish in time (${j['current-progress'] ?? 0}/${j['total-progress'] ?? '?'} bytes)`);
      break;
    }
    await sleep(o.pollMs ?? 100);
  }
  try {
    await cleanup(socket, d);
  } catch (e) {
    failure ??= e as Error;
  }
  if (failure) throw failure;
}
