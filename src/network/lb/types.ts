/**
 * Load balancer data plane contract. The network service owns load balancer
 * resources; a data plane turns one spec into listening sockets that spread
 * connections or requests over pool members. The built-in one is Node
 * (node.ts); HAProxy or Envoy can be plugged in by implementing this
 * interface and rendering their own configuration from the same spec.
 *
 * Contract:
 * - ensure() is idempotent and applies changes in place: member health and
 *   counters survive for members that stay; listeners are rebound only when
 *   their address, port or protocol change. On failure nothing new listens.
 * - remove() of an unknown id succeeds.
 * - Members failing `fall` consecutive health checks are taken out; they
 *   come back after `rise` consecutive successes. Without a health check a
 *   member is always in.
 */

export type LbAlgorithm = 'round_robin' | 'least_connections';

export interface LbMember {
  id: string;
  host: string;
  port: number;
}

export interface HealthCheckSpec {
  /** `tcp`: a connect succeeds. `http`: GET `path` answers 200-399. */
  type: 'tcp' | 'http';
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes to bring a member back. */
  rise: number;
  /** Consecutive failures to take a member out. */
  fall: number;
}

export interface PoolSpec {
  id: string;
  algorithm: LbAlgorithm;
  members: LbMember[];
  healthCheck?: HealthCheckSpec;
}

/** L7 rule: first match wins; `host` is exact or `*.suffix`; `pathPrefix` matches at segment start. */
export interface HttpRoute {
  host?: string;
  pathPrefix?: string;
  pool: string;
}

export interface ListenerSpec {
  id: string;
  protocol: 'tcp' | 'http';
  host: string;
  /** 0 picks a free port (see the result of ensure). */
  port: number;
  /** Pool used when no route matches (tcp listeners use only this). */
  defaultPool?: string;
  routes?: HttpRoute[];
}

export interface LoadBalancerSpec {
  id: string;
  listeners: ListenerSpec[];
  pools: PoolSpec[];
}

export interface MemberStatus {
  id: string;
  healthy: boolean;
  activeConnections: number;
  totalRequests: number;
}

export interface LoadBalancerStatus {
  id: string;
  listeners: { id: string; host: string; port: number }[];
  pools: { id: string; members: MemberStatus[] }[];
}

export interface LoadBalancerDataPlaneCapabilities {
  kind: string;
  protocols: Array<'tcp' | 'http'>;
  algorithms: LbAlgorithm[];
  healthChecks: Array<'tcp' | 'http'>;
}

export interface LoadBalancerDataPlane {
  readonly capabilities: LoadBalancerDataPlaneCapabilities;
  ensure(spec: LoadBalancerSpec): Promise<LoadBalancerStatus>;
  remove(id: string): Promise<void>;
  status(id: string): LoadBalancerStatus | undefined;
  /** Stops every listener and health check. */
  close(): Promise<void>;
  /** Optional: bytes sent to clients since the last call, by load balancer id (for metering); forgets them. */
  takeDataOut?(): Record<string, number>;
}
