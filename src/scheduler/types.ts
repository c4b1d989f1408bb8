/**
 * Scheduler vocabulary. The scheduler only chooses a host and claims its
 * capacity; it never starts anything (controllers do). Filters and weighers
 * are small plugins: a filter says yes/no for one host and one request, a
 * weigher scores a host from its own state (request-independent, so hosts
 * can be kept in a sorted index and the best one found without a scan).
 */
export interface Amounts { cpus: number; memoryMb: number; diskGb: number }

/** The scheduler's in-memory view of one host. */
export interface HostState {
  id: string;
  name: string;
  pool: string;
  zone: string;
  arch: string;
  labels: Record<string, string>;
  drivers: string[];
  /** Raw capacity. */
  capacity: Amounts;
  overcommit: { cpu: number; ram: number; disk: number };
  /** capacity × overcommit: what may be allocated. */
  limit: Amounts;
  used: Amounts & { instances: number };
  /** Position key in the index (cached weigher score). */
  score: number;
}

export interface ServerGroupRef {
  /** `project/name`: members are counted per group. */
  key: string;
  policy: 'affinity' | 'anti-affinity';
}

export interface PlacementRequest {
  /** Whatever consumes the capacity (an instance id). One allocation per consumer. */
  consumerId: string;
  amounts: Amounts;
  pool?: string;
  zone?: string;
  /** Image architecture (OCI names, `amd64`). */
  arch?: string;
  /** Host labels the host must carry (equality). */
  hostLabels?: Record<string, string>;
  serverGroup?: ServerGroupRef;
  /** Only hosts whose agents offer this compute driver. */
  driver?: string;
}

/** What filters may look at besides the host: server group membership. */
export interface FilterContext {
  /** Hosts (ids) holding members of a server group, with member counts. */
  groupHosts(key: string): ReadonlyMap<string, number> | undefined;
}

export interface HostFilter {
  readonly name: string;
  passes(h: HostState, r: PlacementRequest, c: FilterContext): boolean;
  /** Why a host fails, for "no valid host" messages. */
  explain?(r: PlacementRequest): string;
}

export interface HostWeigher {
  readonly name: string;
  /** Higher is better. Must depend only on the host's state. */
  weigh(h: HostState): number;
}

export interface Placement { consumerId: string; hostId: string; hostName: string; pool: string }
