/**
 * Network driver registry. The agent picks a driver by name from config; each
 * driver is one folder and one entry here.
 */
import { YunError } from '../../core/errors.ts';
import { FakeNetworkDriver } from './fake/driver.ts';
import { type HostDriverOptions, HostNetworkDriver } from './host/driver.ts';
import { type LinuxDriverOptions, LinuxNetworkDriver } from './linux/driver.ts';
import type { NetworkDriver } from './types.ts';

export type NetworkDriverKind = 'linux' | 'host' | 'fake';

export interface NetworkDriverOptions {
  linux?: LinuxDriverOptions;
  host?: HostDriverOptions;
}

/**
 * Opens the named driver. `auto` tries linux and falls back to host when the
 * host lacks root/iproute2/nftables (check `capabilities` of the result).
 */
export async function openNetworkDriver(kind: NetworkDriverKind | 'auto', opts: NetworkDriverOptions = {}): Promise<NetworkDriver> {
  if (kind === 'fake') return new FakeNetworkDriver();
  if (kind === 'host') return new HostNetworkDriver(opts.host);
  if (kind === 'linux') return LinuxNetworkDriver.open(opts.linux);
  if (kind === 'auto') {
    const probe = await LinuxNetworkDriver.probe(opts.linux?.run);
    return probe.ok ? LinuxNetworkDriver.open(opts.linux) : new HostNetworkDriver(opts.host);
  }
  throw new YunError('ValidationFailed', `unknown network driver ${String(kind)}`, { field: 'network.driver' });
}

export { FakeNetworkDriver, HostNetworkDriver, LinuxNetworkDriver };
export type { HostPortAllocator } from './host/driver.ts';
export type { LinuxDriverOptions } from './linux/driver.ts';
export { METADATA_IP } from './linux/ruleset.ts';
export type * from './types.ts';
