import { invalid } from '../../core/errors.ts';
import { type WorkloadLimits, type WorkloadNic, type WorkloadSpec, WORKLOAD_ID_RE } from './types.ts';

/** Throws `ValidationFailed` for a spec no driver should accept. Shared by every driver. */
export function validateWorkloadSpec(spec: WorkloadSpec): void {
  if (!WORKLOAD_ID_RE.test(spec.id)) throw invalid('/id', `workload id '${spec.id}' must be a DNS label`);
  if (!spec.imageRootfs.startsWith('/')) throw invalid('/imageRootfs', 'imageRootfs must be an absolute path');
  if (!Array.isArray(spec.command) || spec.command.length === 0 || spec.command.some((a) => typeof a !== 'string'))
    throw invalid('/command', 'command must be a non-empty array of strings');
  if (spec.command.some((a) => a.includes('\0'))) throw invalid('/command', 'command arguments must not contain NUL');
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(`/env/${k}`, `bad environment variable name '${k}'`);
    if (v.includes('\0')) throw invalid(`/env/${k}`, 'environment values must not contain NUL');
  }
  if (spec.workingDir !== undefined && !spec.workingDir.startsWith('/')) throw invalid('/workingDir', 'workingDir must be absolute');
  if (spec.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(spec.hostname))
    throw invalid('/hostname', 'hostname must be a DNS name');
  validateLimits(spec.limits ?? {});
  for (const [i, f] of (spec.files ?? []).entries()) {
    if (!isSafeAbsPath(f.path)) throw invalid(`/files/${i}/path`, `injected file path '${f.path}' must be absolute without '..'`);
  }
  if (spec.userData !== undefined && !spec.userData.startsWith('#!')) throw invalid('/userData', 'userData must start with #!');
  if (spec.netnsPath !== undefined && !isSafeAbsPath(spec.netnsPath)) throw invalid('/netnsPath', 'netnsPath must be an absolute path');
}

export function validateLimits(l: WorkloadLimits): void {
  if (l.cpus !== undefined && !(Number.isFinite(l.cpus) && l.cpus > 0 && l.cpus <= 1024)) throw invalid('/limits/cpus', 'cpus must be > 0');
  if (l.memoryMb !== undefined && !(Number.isInteger(l.memoryMb) && l.memoryMb >= 4))
    throw invalid('/limits/memoryMb', 'memoryMb must be an integer >= 4');
  if (l.pids !== undefined && !(Number.isInteger(l.pids) && l.pids >= 1)) throw invalid('/limits/pids', 'pids must be an integer >= 1');
  if (l.rootDiskGb !== undefined && !(l.rootDiskGb > 0 && l.rootDiskGb <= 65536)) throw invalid('/limits/rootDiskGb', 'rootDiskGb must be > 0 and ≤ 65536');
}

/** Absolute, normalised, no `..`, no NUL. */
export function isSafeAbsPath(p: string): boolean {
  if (!p.startsWith('/') || p.includes('\0')) return false;
  return !p.split('/').some((c) => c === '..' || c === '.');
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** VM NICs: every value reaches QEMU's command line or the guest's network files. */
export function validateNics(nics: WorkloadNic[]): void {
  if (!Array.isArray(nics) || nics.length > 16) throw invalid('/nics', 'nics must be a list of at most 16');
  for (const [i, n] of nics.entries()) {
    const f = (k: string) => `/nics/${i}/${k}`;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.tap)) throw invalid(f('tap'), 'tap must be an interface name (1-15 of [A-Za-z0-9_.-])');
    if (!/^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/i.test(n.mac)) throw invalid(f('mac'), 'mac must be a unicast MAC like 02:00:00:00:00:01');
    if (!IPV4_RE.test(n.ip)) throw invalid(f('ip'), 'ip must be an IPv4 address');
    if (!(Number.isInteger(n.prefix) && n.prefix >= 1 && n.prefix <= 32)) throw invalid(f('prefix'), 'prefix must be 1-32');
    if (!IPV4_RE.test(n.gateway)) throw invalid(f('gateway'), 'gateway must be an IPv4 address');
    if (n.searchDomain !== undefined && !/^[a-z0-9]([a-z0-9.-]{0,252})$/i.test(n.searchDomain)) throw invalid(f('searchDomain'), 'searchDomain must be a DNS name');
  }
}
