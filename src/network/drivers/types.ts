/**
 * The network driver contract. A driver turns yun's network intent (networks,
 * ports, security groups, published ports, DNS records) into real data-plane
 * objects on one host. The network service (IPAM, API) sits above it and
 * passes fully decided values: CIDRs, gateways and addresses are chosen by the
 * service (see ../ipam.ts); the driver validates them again before any value
 * reaches a command line.
 *
 * Rules every implementation follows:
 * - Every operation is idempotent: repeating it with the same input succeeds
 *   and changes nothing. Deleting something missing succeeds.
 * - A failed call leaves nothing half-made that a retry cannot finish.
 * - Backend-native names (bridge names, netns names, nft chains) never leave
 *   the driver, except `netnsPath`, which the compute driver must join, and
 *   a VM's tap device name, which the hypervisor must open.
 * - A driver only ever touches objects it owns (its name prefix).
 */

export interface NetworkDriverCapabilities {
  /** Driver kind, e.g. `linux`, `host`. */
  kind: string;
  /** Instances on different networks cannot reach each other. */
  isolation: boolean;
  /** Security group rules are enforced on instance traffic. */
  securityGroupsEnforced: boolean;
  /** Per-network DNS (`<instance>.<network>.internal`) is served. */
  dns: boolean;
  /** 169.254.169.254:80 reaches the metadata service from every instance. */
  metadata: boolean;
  /** Each instance gets its own network namespace and address. */
  perInstanceAddress: boolean;
  /** Human-readable reasons for anything above that is false. */
  notes: string[];
}

export interface NetworkSpec {
  /** yun network id; any string of [A-Za-z0-9._:-], at most 128 chars. */
  id: string;
  /** IPv4 CIDR, host bits zero, /8 … /29. */
  cidr: string;
  /** Gateway address inside `cidr`, held by the host. */
  gateway: string;
  /** Link MTU, 576 … 9000. Default 1500. */
  mtu?: number;
  /** Masquerade instance traffic leaving the host. */
  nat: boolean;
  /** DNS zone served for this network, e.g. `prod.internal`. Default `<id>.internal`. */
  dnsDomain?: string;
}

export type Direction = 'ingress' | 'egress';
export type RuleProtocol = 'tcp' | 'udp' | 'icmp' | 'any';

/**
 * One security group rule, already flattened by the service: a rule that
 * references another group arrives with `remoteGroupMembers` (the current
 * addresses of that group's ports). With neither remote field, any address.
 */
export interface SecurityRule {
  direction: Direction;
  protocol: RuleProtocol;
  /** For tcp/udp; both omitted = all ports. Ignored for icmp/any. */
  portMin?: number;
  portMax?: number;
  remoteCidr?: string;
  remoteGroupMembers?: string[];
}

export interface AttachSpec {
  networkId: string;
  portId: string;
  instanceId: string;
  ip: string;
  /** Unicast MAC; default derived from portId. */
  mac?: string;
  /** Fully qualified name served by the network's DNS, e.g. `web-1.prod.internal`. */
  dnsName?: string;
  /**
   * Initial security rules. Default `[]`: all ingress denied except replies,
   * all egress allowed. Replace later with applySecurityGroups.
   */
  securityRules?: SecurityRule[];
  /**
   * `veth` (default): the instance gets a network namespace holding the NIC
   * with the address configured (containers). `tap`: a persistent tap device
   * on the network for a VM; the guest configures `ip` on a NIC with `mac`
   * itself. Security groups, anti-spoofing, DNS, metadata and published
   * ports treat both alike.
   */
  nic?: NicKind;
}

export type NicKind = 'veth' | 'tap';

export interface AttachResult {
  /** Network namespace to join (e.g. /var/run/netns/yun-…), or null for the host namespace. */
  netnsPath: string | null;
  /** Interface name inside the namespace (`eth0`, `eth1`, …). */
  ifname: string;
  /** Content for the instance's /etc/resolv.conf. */
  resolvConf: string;
  /**
   * For `nic: 'tap'`: the host tap device a VM's NIC opens (e.g. QEMU
   * `-netdev tap,ifname=…`) and the MAC the guest NIC must use (frames from
   * any other MAC are dropped). Undefined when the driver has no taps.
   */
  tap?: { ifname: string; mac: string };
}

export interface PublishSpec {
  id: string;
  /** Host address to listen on; `0.0.0.0` means every local address, including 127.0.0.1. */
  hostIp: string;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  targetIp: string;
  targetPort: number;
}

export interface DnsRecord {
  /** Fully qualified name, e.g. `db.prod.internal`. */
  name: string;
  ip: string;
}

/** The complete intended state of the host, used on (re)start. */
export interface DesiredNetworkState {
  networks: NetworkSpec[];
  ports: AttachSpec[];
  publishedPorts: PublishSpec[];
  /** Extra records per network id (port dnsNames are added automatically). */
  dnsRecords?: Record<string, DnsRecord[]>;
}

/** What the driver found on the host that carries its ownership marks. */
export interface OwnedObjects {
  networks: string[];
  ports: string[];
  publishedPorts: string[];
  /** Namespaced instances (instance ids) with a live namespace. */
  instances: string[];
}

export interface NetworkDriver {
  readonly capabilities: NetworkDriverCapabilities;

  /** After success the network exists with this CIDR/gateway/MTU/NAT and its DNS is served. */
  ensureNetwork(spec: NetworkSpec): Promise<void>;
  /** Removes the network. Refuses (InvalidState) while ports are attached. Missing → success. */
  deleteNetwork(id: string): Promise<void>;

  /**
   * Connects an instance to a network. The first attach of an instance creates
   * its namespace; a second NIC is a second attach. After success the instance
   * side has `ip/prefix`, lo up, a default route via the gateway (first NIC),
   * and the port's security rules are in force.
   */
  attach(spec: AttachSpec): Promise<AttachResult>;
  /** Removes the NIC; the instance namespace goes with its last NIC. Missing → success. */
  detach(portId: string): Promise<void>;

  /**
   * Replaces the port's rules. Stateful: replies to allowed flows pass; with no
   * ingress rule all new inbound flows are denied; with no egress rule all
   * outbound is allowed. Takes effect on the running instance within a second
   * and does not cut established flows that remain allowed.
   */
  applySecurityGroups(portId: string, rules: SecurityRule[]): Promise<void>;

  /** Forwards hostIp:hostPort to targetIp:targetPort. Refuses (Conflict) a clash with another id. */
  publishPort(spec: PublishSpec): Promise<void>;
  /** Missing → success. */
  unpublishPort(id: string): Promise<void>;

  /** Replaces the extra DNS records of the network. */
  setDnsRecords(networkId: string, records: DnsRecord[]): Promise<void>;

  /**
   * Converges the host to exactly `desired`: removes owned leftovers not in it,
   * recreates what is missing, leaves alone everything the driver does not own.
   */
  reconcile(desired: DesiredNetworkState): Promise<void>;
  /** Lists owned objects as found on the host (not from memory). */
  listOwned(): Promise<OwnedObjects>;

  /** Stops userland helpers (DNS responders). Kernel objects stay. */
  close(): Promise<void>;
}

/** Optional ability: map a caller's source address to an instance (for the metadata server). */
export interface InstanceIdentifier {
  identifyInstance(sourceIp: string): { instanceId: string; portId: string; networkId: string } | undefined;
}

/**
 * Optional ability: bytes the instances sent back through each published
 * port (the replies of DNAT-ed connections), for metering. `takeDataOut`
 * returns the bytes counted since its last call, by published-port id, and
 * forgets them; counts made before the driver was opened are not returned
 * (so a restart never bills a byte twice, at the price of the bytes of the
 * last interval before a crash).
 */
export interface DataOutCounter {
  takeDataOut(): Promise<Record<string, number>>;
}
