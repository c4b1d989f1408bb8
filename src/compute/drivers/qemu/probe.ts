import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { run } from '../host.ts';

export type Accelerator = 'kvm' | 'tcg';

export interface AcceleratorProbe {
  accelerator: Accelerator;
  /** Set when KVM was not chosen although /dev/kvm exists, or could not be verified. */
  warning?: string;
}

/** `QEMU emulator version 7.2.x ...` → `7.2.x`, or undefined when the binary is missing. */
export async function qemuVersion(binary: string): Promise<string | undefined> {
  try {
    const r = await run(binary, ['--version'], { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    return /version\s+([0-9][^\s(]*)/.exec(r.stdout)?.[1] ?? r.stdout.split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * Chooses KVM only when it really runs a Linux guest. Opening /dev/kvm is not
 * enough: on some hosts (nested virtualisation without the needed features)
 * the device opens, a real-mode boot sector even runs, and the kernel then
 * hangs in its 16-bit setup code. So the probe boots `probeKernel` under KVM
 * with earlyprintk and waits for the kernel's `Linux version` banner, which
 * is printed only after the switch to long mode and decompression.
 */
export async function probeAccelerator(opts: { binary: string; probeKernel?: string; timeoutMs?: number }): Promise<AcceleratorProbe> {
  try {
    const fh = await open('/dev/kvm', 'r+');
    await fh.close();
  } catch (e) {
    return { accelerator: 'tcg', warning: `KVM unavailable (${(e as Error).message}); using TCG (slow, software emulation)` };
  }
  if (!opts.probeKernel) {
    return { accelerator: 'tcg', warning: '/dev/kvm opens but KVM was not verified (no probe kernel given); using TCG' };
  }
  const ok = await bootsUnderKvm(opts.binary, opts.probeKernel, opts.timeoutMs ?? 6_000);
  return ok
    ? { accelerator: 'kvm' }
    : { accelerator: 'tcg', warning: '/dev/kvm opens but a KVM guest kernel did not start (hangs); using TCG (slow, software emulation)' };
}

function bootsUnderKvm(binary: string, kernel: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const args = [
      '-accel', 'kvm', '-m', '128', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-serial', 'stdio', '-kernel', kernel,
      '-append', 'console=ttyS0 earlyprintk=ttyS0 loglevel=8 rdinit=/yun-kvm-probe panic=-1',
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.includes('Linux version')) finish(true);
      if (out.length > 1_000_000) out = out.slice(-1000);
    });
    child.on('error', () => finish(false));
    child.on('close', () => finish(out.includes('Linux version')));
  });
}
