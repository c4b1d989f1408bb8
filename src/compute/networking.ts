/**
 * The seam between compute and the network service. Compute asks the
 * network service to give an instance its network before the first start,
 * and to take it back after the workload is deleted. The network service
 * implements this interface and hands it to the compute module
 * (`computeModule(config, { networking })`); without it instances get the
 * "none" implementation: their own namespace with loopback only (oci) or the
 * host network (process driver).
 *
 * Contract:
 * - `prepare` is idempotent per instance id: called again for the same
 *   instance (a controller retry, a restart) it returns the same result
 *   without allocating twice. A `prepare` that throws leaves nothing behind.
 * - `release` undoes `prepare`; releasing an instance that holds nothing
 *   succeeds. Compute calls it only after the workload has been deleted.
 * - Neither is ever called inside a store transaction.
 */
import type { Sql } from '../store/types.ts';
import type { InjectedFile, WorkloadNic } from './drivers/types.ts';

export type { InjectedFile, WorkloadNic as VmNic };

/** What the network side needs to know about the instance it is wiring up. */
export interface NetworkedInstance {
  /** yun instance id (`i-…`), stable for the instance's life. */
  id: string;
  name: string;
  project: string;
  /** `spec.networks` as the user gave it (network names in the instance's project); empty/undefined = default. */
  networks?: string[];
  /** `spec.securityGroups` as the user gave it. */
  securityGroups?: string[];
  hostname: string;
  /** `tap` for a VM (its NICs are tap devices the hypervisor opens); default `veth` (a namespace the workload joins). */
  nicKind?: 'veth' | 'tap';
}


export interface PreparedNetwork {
  /** Network namespace the workload joins (absolute path). Undefined = driver default (loopback only). */
  netnsPath?: string;
  /** Addresses given to the instance; shown in its status and metadata document. */
  addresses: { network: string; ip: string }[];
  /** Extra files written into the instance before first start (e.g. /etc/resolv.conf, /etc/hosts). */
  files?: InjectedFile[];
  /** For `nicKind: 'tap'`: the VM's NICs in order (eth0 first). Empty when the network driver has no taps. */
  nics?: WorkloadNic[];
}

export interface InstanceNetworking {
  /** Name shown by `yun doctor` and the module's describe(), e.g. `none`, `linux`. */
  readonly name: string;
  prepare(instance: NetworkedInstance): Promise<PreparedNetwork>;
  release(instance: NetworkedInstance): Promise<void>;
  /**
   * Optional: checks `spec.networks` / `spec.securityGroups` inside the
   * instance-create transaction (reads only), so a missing network or an
   * out-of-subnet address answers 400/404 at once instead of failing later.
   */
  validate?(q: Sql, project: string, networks?: string[], securityGroups?: string[]): Promise<void>;
  /**
   * Optional: an instance's `spec.securityGroups` changed. Called inside the
   * instance-update transaction; checks the groups (404 naming the field)
   * and applies them to the instance's ports without restarting it. Without
   * it, a change of groups is refused.
   */
  setSecurityGroups?(q: Sql, project: string, instanceId: string, securityGroups?: string[]): Promise<void>;
}

/** Loopback only: no addresses, no namespace from outside, nothing to release. */
export class NoNetworking implements InstanceNetworking {
  readonly name = 'none';
  async prepare(_instance: NetworkedInstance): Promise<PreparedNetwork> {
    return { addresses: [] };
  }
  async release(_instance: NetworkedInstance): Promise<void> {}
}
