/**
 * The default seccomp filter of oci workloads (OCI `linux.seccomp`).
 *
 * A deny list modelled on what Docker's default profile refuses to a
 * container without CAP_SYS_ADMIN: syscalls that reach kernel attack surface
 * a workload has no business with (namespaces, mounts, modules, kexec, BPF,
 * perf, keyrings, io_uring, handle-based opens, setting clocks, swap,
 * reboot). Reading the clock through adjtimex stays allowed: libc's
 * adjtimex() is the clock_adjtime syscall, and changing the clock needs
 * CAP_SYS_TIME anyway. The
 * capability set already stops most of them; the filter also stops what
 * needs no capability at all — above all creating a user namespace (`unshare
 * -U`, `clone(CLONE_NEWUSER)`), which would hand the workload a full
 * capability set over a namespace of its own. They fail with EPERM;
 * `clone3` answers ENOSYS so libc falls back to `clone`, whose flags the
 * filter can see. Only the host's native syscall ABI is allowed (no 32-bit
 * entry points).
 *
 * What it does not do: an allow list (any syscall not named here is
 * allowed), argument filtering beyond clone's namespace flags.
 */

const EPERM = 1;
const ENOSYS = 38;

/** Syscalls refused with EPERM (names as libseccomp knows them on x86_64 and aarch64). */
export const DENIED_SYSCALLS = [
  'acct', 'add_key', 'bpf', 'clock_settime', 'delete_module', 'finit_module', 'fsconfig', 'fsmount', 'fsopen',
  'fspick', 'init_module', 'io_uring_enter', 'io_uring_register', 'io_uring_setup', 'kexec_file_load', 'kexec_load', 'keyctl',
  'lookup_dcookie', 'mount', 'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_by_handle_at', 'open_tree', 'perf_event_open',
  'pivot_root', 'quotactl', 'reboot', 'request_key', 'setns', 'settimeofday', 'swapoff', 'swapon', 'syslog', 'umount2', 'unshare',
  'userfaultfd',
];

/** x86_64-only entry points (absent on aarch64, where libseccomp would not know them). */
const DENIED_X86_64 = ['ioperm', 'iopl', 'create_module', 'get_kernel_syms', 'query_module', 'uselib', 'ustat', 'sysfs', 'nfsservctl', '_sysctl'];

/** clone(2) flags that make a new namespace. */
export const CLONE_NS_FLAGS = {
  CLONE_NEWNS: 0x00020000, CLONE_NEWCGROUP: 0x02000000, CLONE_NEWUTS: 0x04000000, CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000, CLONE_NEWPID: 0x20000000, CLONE_NEWNET: 0x40000000, CLONE_NEWTIME: 0x00000080,
} as const;

const ARCH: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };

/** The OCI `linux.seccomp` object for this host's architecture, or undefined where yun has no profile for it. */
export function defaultSeccomp(arch: string = process.arch): Record<string, unknown> | undefined {
  const a = ARCH[arch];
  if (!a) return undefined;
  const names = arch === 'x64' ? [...DENIED_SYSCALLS, ...DENIED_X86_64] : DENIED_SYSCALLS;
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: [a],
    syscalls: [
      { names, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
      // One rule per flag: a rule's argument conditions are ANDed, separate rules ORed.
      ...Object.values(CLONE_NS_FLAGS).map((flag) => ({
        names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM,
        args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
      })),
    ],
  };
}

/** Whether the runtime was built with seccomp (crun: `+SECCOMP`; runc: a libseccomp version). */
export const runtimeHasSeccomp = (versionOutput: string): boolean => /\+SECCOMP\b|libseccomp:\s*\d/.test(versionOutput);
