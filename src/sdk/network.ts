/**
 * Typed client for the network service: networks (and their subnets/ports),
 * security groups with rule actions, floating IPs and load balancers.
 * `new NetworkApi(client)` over any logged-in `YunClient`.
 */
import type { FloatingIpSpec, FloatingIpStatus, LoadBalancerSpec, LoadBalancerStatus, NetworkResourceSpec, NetworkResourceStatus, SecurityGroupSpec } from '../network/types.ts';
import type { SgRule } from '../network/rules.ts';
import type { Resource } from '../core/resource.ts';
import { ResourceClient, type YunClient } from './client.ts';

/** Input shapes: what the API fills in may be left out. */
export type NetworkInput = Partial<NetworkResourceSpec>;
export type SecurityGroupInput = { description?: string; rules?: (string | SgRule)[] };
export type FloatingIpInput = Partial<FloatingIpSpec> & { instance: string; port: number };
export type LoadBalancerInput = Partial<Omit<LoadBalancerSpec, 'listeners' | 'healthCheck'>> & {
  listeners: { protocol: 'http' | 'tcp'; port: number; hostIp?: string }[];
  healthCheck?: Partial<LoadBalancerSpec['healthCheck']>;
};

export interface PortInfo { instance: string; instanceId: string; ip: string; securityGroups: string[]; dnsName?: string; nic: number; createdAt: string }

class Networks extends ResourceClient<NetworkInput, NetworkResourceStatus> {
  constructor(private readonly client: YunClient) { super(client, 'networks'); }
  /** IP allocations of the network. */
  ports(name: string): Promise<{ items: PortInfo[] }> {
    return this.client.request('GET', `/v1/networks/${encodeURIComponent(name)}/ports`);
  }
}

class SecurityGroups extends ResourceClient<SecurityGroupInput> {
  constructor(private readonly client: YunClient) { super(client, 'security-groups'); }
  /** Adds a rule: text (`ingress tcp 80 0.0.0.0/0`) or object. */
  addRule(name: string, rule: string | SgRule): Promise<Resource<SecurityGroupSpec>> {
    return this.client.request('POST', `/v1/security-groups/${encodeURIComponent(name)}/rules`, { body: { rule } });
  }
  /** Deletes the rule equal to `rule`. */
  deleteRule(name: string, rule: string | SgRule): Promise<Resource<SecurityGroupSpec>> {
    return this.client.request('POST', `/v1/security-groups/${encodeURIComponent(name)}/rules/delete`, { body: { rule } });
  }
}

export class NetworkApi {
  readonly networks: Networks;
  readonly securityGroups: SecurityGroups;
  readonly floatingIps: ResourceClient<FloatingIpInput, FloatingIpStatus>;
  readonly loadBalancers: ResourceClient<LoadBalancerInput, LoadBalancerStatus>;

  constructor(client: YunClient) {
    this.networks = new Networks(client);
    this.securityGroups = new SecurityGroups(client);
    this.floatingIps = client.resource<FloatingIpInput, FloatingIpStatus>('floating-ips');
    this.loadBalancers = client.resource<LoadBalancerInput, LoadBalancerStatus>('load-balancers');
  }
}
