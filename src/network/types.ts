/**
 * The network service's resource kinds (spec = what the user asks for,
 * status = what the controller found true) and their API schemas.
 */
import { Type } from '@sinclair/typebox';
import type { ResourceStatus } from '../core/resource.ts';
import type { SgRule } from './rules.ts';

export const KIND = {
  network: 'network',
  securityGroup: 'security-group',
  floatingIp: 'floating-ip',
  loadBalancer: 'load-balancer',
} as const;

export interface NetworkResourceSpec {
  /** IPv4 CIDR, /8 … /29, host bits zero. Chosen by yun when omitted. */
  cidr: string;
  /** First usable address by default. */
  gateway: string;
  mtu: number;
  /** Masquerade traffic leaving the host. */
  nat: boolean;
}

export interface NetworkResourceStatus extends ResourceStatus {
  state?: 'pending' | 'active' | 'failed';
  dnsDomain?: string;
  driver?: string;
  /** False on the host driver: instances share the host network. */
  isolation?: boolean;
  securityGroupsEnforced?: boolean;
  ports?: number;
  message?: string;
}

export interface SecurityGroupSpec {
  description?: string;
  rules: SgRule[];
}

export interface FloatingIpSpec {
  /** Instance name in the same project. */
  instance: string;
  /** Network of the instance to target; default: the instance's first network. */
  network?: string;
  /** Port inside the instance. */
  port: number;
  protocol: 'tcp' | 'udp';
  /** Host address: `0.0.0.0` (every local address, loopback included) or `127.0.0.1`. */
  hostIp: string;
  /** Host port; chosen from the published-port range when omitted. */
  hostPort: number;
}

export interface FloatingIpStatus extends ResourceStatus {
  state?: 'pending' | 'active' | 'failed';
  target?: string;
  message?: string;
}

export interface LbListener {
  protocol: 'http' | 'tcp';
  /** Host port the listener binds. */
  port: number;
  hostIp: string;
}

export interface LbMember {
  instance: string;
  port: number;
}

export interface LbHealthCheck {
  /** HTTP path for http listeners; absent = TCP connect check. */
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface LbRule {
  host?: string;
  pathPrefix?: string;
  /** Member instance names this rule routes to. */
  members: string[];
}

export interface LoadBalancerSpec {
  network: string;
  algorithm: 'round-robin' | 'least-conn';
  listeners: LbListener[];
  members: LbMember[];
  healthCheck: LbHealthCheck;
  rules?: LbRule[];
}

export interface LoadBalancerStatus extends ResourceStatus {
  state?: 'pending' | 'active' | 'failed';
  members?: { instance: string; port: number; address?: string; healthy: boolean }[];
  message?: string;
}

const RuleObject = Type.Object({
  direction: Type.String(), protocol: Type.String(),
  portMin: Type.Optional(Type.Integer()), portMax: Type.Optional(Type.Integer()),
  remoteCidr: Type.Optional(Type.String()), remoteGroup: Type.Optional(Type.String()),
}, { additionalProperties: false });

/** A rule as text (`ingress tcp 80 0.0.0.0/0`) or as an object. */
export const RuleInput = Type.Union([Type.String({ maxLength: 200 }), RuleObject]);

export const NetworkSpecSchema = Type.Object({
  cidr: Type.Optional(Type.String({ maxLength: 18 })),
  gateway: Type.Optional(Type.String({ maxLength: 15 })),
  mtu: Type.Optional(Type.Integer()),
  nat: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const SecurityGroupSpecSchema = Type.Object({
  description: Type.Optional(Type.String({ maxLength: 255 })),
  rules: Type.Optional(Type.Array(RuleInput, { maxItems: 200 })),
}, { additionalProperties: false });

export const FloatingIpSpecSchema = Type.Object({
  instance: Type.String({ maxLength: 63 }),
  network: Type.Optional(Type.String({ maxLength: 63 })),
  port: Type.Integer(),
  protocol: Type.Optional(Type.String()),
  hostIp: Type.Optional(Type.String({ maxLength: 15 })),
  hostPort: Type.Optional(Type.Integer()),
}, { additionalProperties: false });

export const LoadBalancerSpecSchema = Type.Object({
  network: Type.Optional(Type.String({ maxLength: 63 })),
  algorithm: Type.Optional(Type.String()),
  listeners: Type.Array(Type.Object({
    protocol: Type.String(), port: Type.Integer(), hostIp: Type.Optional(Type.String({ maxLength: 15 })),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 16 }),
  members: Type.Optional(Type.Array(Type.Object({ instance: Type.String({ maxLength: 63 }), port: Type.Integer() }, { additionalProperties: false }), { maxItems: 256 })),
  healthCheck: Type.Optional(Type.Object({
    path: Type.Optional(Type.String({ maxLength: 255 })), intervalMs: Type.Optional(Type.Integer()), timeoutMs: Type.Optional(Type.Integer()),
    healthyThreshold: Type.Optional(Type.Integer()), unhealthyThreshold: Type.Optional(Type.Integer()),
  }, { additionalProperties: false })),
  rules: Type.Optional(Type.Array(Type.Object({
    host: Type.Optional(Type.String({ maxLength: 253 })), pathPrefix: Type.Optional(Type.String({ maxLength: 255 })),
    members: Type.Array(Type.String({ maxLength: 63 })),
  }, { additionalProperties: false }), { maxItems: 64 })),
}, { additionalProperties: false });
