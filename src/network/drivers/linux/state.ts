/**
 * The driver's model of what it has made, kept in memory and mirrored to a
 * JSON file under a runtime directory (tmpfs: it vanishes with the kernel
 * objects it describes on reboot). The kernel stays the truth for what
 * exists; the file only lets a restarted driver act before its first reconcile.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DnsRecord, NetworkSpec, NicKind, PublishSpec, SecurityRule } from '../types.ts';

export interface PortState {
  networkId: string;
  portId: string;
  instanceId: string;
  ip: string;
  mac: string;
  dnsName?: string;
  /** Interface name inside the instance namespace (for a tap: the guest's NIC order). */
  ifname: string;
  rules: SecurityRule[];
  /** Absent in state files written before taps existed: `veth`. */
  nic?: NicKind;
}

export interface DriverState {
  networks: Record<string, Required<NetworkSpec>>;
  ports: Record<string, PortState>;
  published: Record<string, PublishSpec>;
  dns: Record<string, DnsRecord[]>;
}

export const emptyState = (): DriverState => ({ networks: {}, ports: {}, published: {}, dns: {} });

export async function loadState(file: string): Promise<DriverState> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as DriverState;
    return { ...emptyState(), ...s };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw e;
  }
}

export async function saveState(file: string, s: DriverState): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
  await rename(tmp, file);
}
