export type Role = 'admin' | 'member' | 'reader';
export const ROLES: readonly Role[] = ['admin', 'member', 'reader'];

/** Who is calling, after authentication. */
export interface Principal {
  userId: string;
  userName: string;
  /** Cloud-wide administrator (the bootstrap admin and whoever it makes admin). */
  isAdmin: boolean;
  tokenId?: string;
  accessKeyId?: string;
  /** Project an API token or access key is bound to, if any. */
  boundProjectId?: string;
}

export interface Project { id: string; name: string; description: string; labels: Record<string, string>; createdAt: string }
export interface User { id: string; name: string; email?: string; isAdmin: boolean; createdAt: string; memberships?: { project: string; role: Role }[] }
export interface Membership { userId: string; userName: string; projectId: string; projectName: string; role: Role }
export interface TokenInfo { id: string; name: string; kind: 'login' | 'api'; projectId?: string; expiresAt?: string; revokedAt?: string; createdAt: string }
export interface AccessKeyInfo { accessKeyId: string; userId: string; projectId: string; description: string; createdAt: string; lastUsedAt?: string }
export interface QuotaEntry { resource: string; limit: number; used: number }

/** The project a request acts in, with the caller's role there. */
export interface Scope { project: Project; role: Role | 'system-admin' }

export const DEFAULT_QUOTAS: Record<string, number> = {
  instances: 20, vcpus: 40, ram_mb: 81920, volumes: 20, volume_gb: 500, snapshots: 50,
  buckets: 100, storage_gb: 1000, apps: 20, networks: 10, security_groups: 20,
  floating_ips: 10, load_balancers: 5, groups: 10,
};
