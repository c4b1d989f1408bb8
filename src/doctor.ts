import { execFile } from 'node:child_process';
import { access, constants, readFile, statfs } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Check { name: string; ok: boolean; detail: string }

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    try {
      await access(`${dir}/${cmd}`, constants.X_OK);
      return `${dir}/${cmd}`;
    } catch { /* next */ }
  }
  return undefined;
}

async function version(path: string, args = ['--version']): Promise<string> {
  try {
    const { stdout, stderr } = await run(path, args, { timeout: 5000 });
    return (stdout || stderr).split('\n')[0]!.trim();
  } catch (e) {
    return `present (version unknown: ${(e as Error).message.split('\n')[0]})`;
  }
}

async function tool(name: string, args?: string[]): Promise<Check> {
  const p = await which(name);
  return { name, ok: Boolean(p), detail: p ? `${p}: ${await version(p, args)}` : 'not installed' };
}

/** The cgroup layout: v2 unified, v1, or hybrid (v1 controllers plus an empty cgroup2 mount that crun refuses). */
export async function cgroupLayout(): Promise<'v2' | 'v1' | 'hybrid' | 'none'> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const v2 = mounts.split('\n').filter((l) => l.split(' ')[2] === 'cgroup2');
  const v1 = mounts.split('\n').some((l) => l.split(' ')[2] === 'cgroup');
  if (v2.some((l) => l.split(' ')[1] === '/sys/fs/cgroup') && !v1) return 'v2';
  if (v1 && v2.length) return 'hybrid';
  if (v1) return 'v1';
  return v2.length ? 'v2' : 'none';
}

/** Machine facts every service's driver choice rests on. */
export async function hostChecks(home: string): Promise<Check[]> {
  const root = process.getuid?.() === 0;
  const checks: Check[] = [{ name: 'root', ok: root, detail: root ? 'running as root: kernel isolation available' : 'not root: process and host drivers only; no isolation, no security groups' }];
  checks.push(await tool('crun'), await tool('runc', ['--version']), await tool('qemu-system-x86_64'), await tool('qemu-img'), await tool('nft', ['--version']), await tool('ip', ['-V']), await tool('busybox', ['--help']));
  const layout = await cgroupLayout();
  checks.push({ name: 'cgroups', ok: layout !== 'none', detail: layout === 'hybrid' ? 'hybrid (v1 controllers + empty cgroup2): crun runs in a private mount namespace without the cgroup2 mount' : layout });
  let kvm = 'absent';
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    kvm = 'opens (guests are probed before use; hung guests fall back to TCG)';
  } catch { /* absent */ }
  checks.push({ name: 'kvm', ok: kvm !== 'absent', detail: kvm === 'absent' ? '/dev/kvm absent: VMs use TCG (slow software emulation)' : kvm });
  try {
    const s = await statfs(home);
    const free = (s.bavail * s.bsize) / 2 ** 30;
    checks.push({ name: 'disk', ok: free > 1, detail: `${free.toFixed(1)} GiB free under ${home}` });
  } catch {
    checks.push({ name: 'disk', ok: false, detail: `${home} not readable` });
  }
  return checks;
}
