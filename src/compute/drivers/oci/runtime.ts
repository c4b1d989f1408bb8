/**
 * How the oci driver calls the OCI runtime (crun, else runc). On "hybrid"
 * cgroup hosts crun refuses to run while the empty cgroup2 mount exists, so
 * every crun call runs in a private mount namespace with it unmounted
 * (unshare + a fixed script taking argv). The host's mounts are untouched.
 */
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { run } from '../host.ts';
import { runtimeHasSeccomp } from './seccomp.ts';

const SUPERVISE_PL = fileURLToPath(new URL('./supervise.pl', import.meta.url));
const WITHOUT_UNIFIED_SH = fileURLToPath(new URL('./without-unified.sh', import.meta.url));

/** prctl(2) syscall numbers by Node architecture name. */
const PRCTL_SYSCALL: Record<string, number> = { x64: 157, arm64: 167, riscv64: 167, ppc64: 171, s390x: 172 };

export interface OciRuntimeInfo {
  name: 'crun' | 'runc';
  path: string;
  version: string;
  /** Built with seccomp support (`+SECCOMP` / libseccomp in `--version`). Unknown: assumed. */
  seccomp?: boolean;
}

/** Find crun (preferred) or runc on PATH-like candidates, with their version. */
export async function findOciRuntime(candidates = ['/usr/bin/crun', '/usr/local/bin/crun', '/usr/bin/runc', '/usr/sbin/runc', '/usr/local/bin/runc', '/usr/local/sbin/runc']): Promise<OciRuntimeInfo | undefined> {
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const r = await run(path, ['--version']).catch(() => undefined);
    if (r?.code !== 0) continue;
    const name = path.endsWith('crun') ? 'crun' : 'runc';
    const m = /version\s+(\S+)/.exec(r.stdout);
    return { name, path, version: m?.[1] ?? 'unknown', seccomp: runtimeHasSeccomp(r.stdout) };
  }
  return undefined;
}

export class RuntimeCli {
  constructor(
    readonly info: OciRuntimeInfo,
    /** `--root` state directory of the runtime, under the driver's stateDir. */
    readonly root: string,
    /** Hide /sys/fs/cgroup/unified (crun on hybrid hosts). */
    readonly hideUnified: boolean,
  ) {}

  /** Global flags then the subcommand's args. */
  private runtimeArgv(args: string[]): string[] {
    const global = ['--root', this.root];
    if (this.info.name === 'crun') global.push('--cgroup-manager=cgroupfs');
    return [this.info.path, ...global, ...args];
  }

  /** [command, args] to spawn for a runtime call. */
  command(args: string[]): [string, string[]] {
    const argv = this.runtimeArgv(args);
    if (!this.hideUnified) return [argv[0]!, argv.slice(1)];
    return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', WITHOUT_UNIFIED_SH, ...argv]];
  }

  /**
   * [command, args] for the detached supervisor (supervise.pl): a subreaper
   * that runs `run -d` and waits for the container init, recording its
   * exit status. `args` must be the `run -d --pid-file pidFile ...` call.
   */
  supervisedCommand(exitFile: string, pidFile: string, args: string[]): [string, string[]] {
    const argv = this.runtimeArgv(args);
    const nr = String(PRCTL_SYSCALL[process.arch] ?? 157);
    if (!this.hideUnified) return ['perl', [SUPERVISE_PL, exitFile, pidFile, nr, '--', ...argv]];
    return ['unshare', ['--mount', '--propagation', 'private', '--', 'perl', SUPERVISE_PL, exitFile, pidFile, nr, '--umount-unified', '--', ...argv]];
  }

  call(args: string[], opts: { input?: string | Uint8Array; timeoutMs?: number } = {}) {
    const [cmd, a] = this.command(args);
    return run(cmd, a, opts);
  }
}
