/** The standard host filters (Nova's filter scheduler, trimmed to what yun uses). */
import type { HostFilter } from './types.ts';

const fits = (used: number, want: number, limit: number) => used + want <= limit + 1e-9;

export const capacityFilter: HostFilter = {
  name: 'capacity',
  passes: (h, r) =>
    fits(h.used.cpus, r.amounts.cpus, h.limit.cpus) && fits(h.used.memoryMb, r.amounts.memoryMb, h.limit.memoryMb) &&
    fits(h.used.diskGb, r.amounts.diskGb, h.limit.diskGb),
  explain: (r) => `no host has room for ${r.amounts.cpus} vCPU, ${r.amounts.memoryMb} MiB RAM, ${r.amounts.diskGb} GB disk after overcommit`,
};

export const poolFilter: HostFilter = {
  name: 'pool',
  passes: (h, r) => !r.pool || h.pool === r.pool,
  explain: (r) => `no host in pool '${r.pool}'`,
};

export const zoneFilter: HostFilter = {
  name: 'zone',
  passes: (h, r) => !r.zone || h.zone === r.zone,
  explain: (r) => `no host in zone '${r.zone}'`,
};

/** `amd64` and `x86_64` name the same thing. */
const normArch = (a: string) => ({ x86_64: 'amd64', x64: 'amd64', aarch64: 'arm64' })[a] ?? a;

export const archFilter: HostFilter = {
  name: 'image-arch',
  passes: (h, r) => !r.arch || normArch(h.arch) === normArch(r.arch),
  explain: (r) => `no host of architecture '${r.arch}' (the image's)`,
};

export const hostLabelFilter: HostFilter = {
  name: 'host-labels',
  passes: (h, r) => !r.hostLabels || Object.entries(r.hostLabels).every(([k, v]) => h.labels[k] === v),
  explain: (r) => `no host carries labels ${JSON.stringify(r.hostLabels)}`,
};

export const driverFilter: HostFilter = {
  name: 'driver',
  passes: (h, r) => !r.driver || h.drivers.length === 0 || h.drivers.some((d) => d === r.driver || d.startsWith(`${r.driver} `)),
  explain: (r) => `no host offers the '${r.driver}' compute driver`,
};

export const affinityFilter: HostFilter = {
  name: 'server-group-affinity',
  passes: (h, r, c) => {
    if (r.serverGroup?.policy !== 'affinity') return true;
    const hosts = c.groupHosts(r.serverGroup.key);
    return !hosts || hosts.size === 0 || hosts.has(h.id);
  },
  explain: (r) => `server group '${r.serverGroup?.key}' (affinity) pins its members to a host that cannot take this one`,
};

export const antiAffinityFilter: HostFilter = {
  name: 'server-group-anti-affinity',
  passes: (h, r, c) => r.serverGroup?.policy !== 'anti-affinity' || !(c.groupHosts(r.serverGroup.key)?.get(h.id)),
  explain: (r) => `every remaining host already runs a member of server group '${r.serverGroup?.key}' (anti-affinity)`,
};

/** Cheap, selective filters first; capacity last so "no valid host" names the real reason. */
export const DEFAULT_FILTERS: HostFilter[] = [poolFilter, zoneFilter, archFilter, hostLabelFilter, driverFilter, affinityFilter, antiAffinityFilter, capacityFilter];
