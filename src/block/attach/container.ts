/**
 * Volumes in running containers. The volume's filesystem is loop-mounted on
 * the host (`drivers/mount.ts`), then that mount is cloned into the
 * container's own mount namespace at the mount path with open_tree +
 * move_mount (`nsmount.pl`): live, no container restart, nothing run from
 * the container's filesystem, and no dependence on mount propagation (the
 * oci driver runs crun in a private mount namespace, so host mounts never
 * propagate into containers). A restarted container has a new mount
 * namespace: the block controller sees the new pid and binds again.
 * Needs root, perl, Linux ≥ 5.2.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { YunError } from '../../core/errors.ts';

const HELPER = fileURLToPath(new URL('./nsmount.pl', import.meta.url));

function helper(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('perl', [HELPER, ...args], { timeout: 30_000, encoding: 'utf8' }, (err, _out, stderr) => {
      if (err) reject(new YunError('DriverFailed', `nsmount ${args[0]} failed: ${String(stderr || err.message).trim()}`, { cause: err }));
      else resolve();
    });
  });
}

/** Clones the host mount at `hostDir` into `pid`'s mount namespace at `mountPath` (made if missing). */
export async function bindIntoContainer(pid: number, hostDir: string, mountPath: string): Promise<void> {
  if (await mountedIn(pid, mountPath)) return;
  await helper(['bind', String(pid), hostDir, mountPath]);
}

/** Lazily unmounts `mountPath` in `pid`'s namespace. Not mounted, or the process gone: succeeds. */
export async function unbindFromContainer(pid: number, mountPath: string): Promise<void> {
  if (!(await mountedIn(pid, mountPath))) return;
  await helper(['unbind', String(pid), mountPath]);
}

/** Whether something is mounted at `mountPath` as `pid` sees it (false when the process is gone). */
export async function mountedIn(pid: number, mountPath: string): Promise<boolean> {
  let info: string;
  try {
    info = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return false;
  }
  const target = mountPath.replace(/\/+$/, '') || '/';
  return info.split('\n').some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === target);
}
