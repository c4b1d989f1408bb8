/**
 * What the objects service needs from identity. The real implementation
 * comes from src/identity; `createStaticIdentity` is an in-memory one for
 * tests and single-user setups.
 */
import { YunError } from '../core/errors.ts';

export interface AccessKeyInfo { secretAccessKey: string; userId: string; projectId: string; ownerDisplayName: string }

export interface AuthzPrincipal { accessKeyId: string; userId: string; projectId: string }

export type AuthzDecision = 'allow' | 'deny' | 'implicit-deny';

export interface ObjectIdentity {
  /** The secret and owner of an access key; undefined when unknown or disabled. */
  lookupAccessKey(accessKeyId: string): Promise<AccessKeyInfo | undefined>;
  /**
   * The user's IAM policies evaluated for `action` (e.g. `s3:PutObject`) on
   * `resourceArn` (`arn:aws:s3:::bucket/key`). `deny` only for an explicit Deny.
   */
  authorize(principal: AuthzPrincipal, action: string, resourceArn: string, context: Record<string, string>): Promise<AuthzDecision>;
  /** Throws YunError('QuotaExceeded') when adding `delta` would exceed the project's quota. */
  checkQuota(projectId: string, resource: 'buckets' | 'storage_gb', delta: number): Promise<void>;
  /** Optional usage feed for metering. */
  recordUsage?(projectId: string, metric: string, value: number, labels?: Record<string, string>): void;
}

export interface StaticKey { accessKeyId: string; secretAccessKey: string; userId: string; projectId: string; ownerDisplayName?: string }

/**
 * In-memory identity: every listed key belongs to a project admin (IAM says
 * allow for everything), optional per-project quotas.
 */
export function createStaticIdentity(keys: StaticKey[], quotas: Record<string, { buckets?: number; storage_gb?: number }> = {}): ObjectIdentity & { usage: Map<string, number> } {
  const byId = new Map(keys.map((k) => [k.accessKeyId, k]));
  const usage = new Map<string, number>();
  return {
    usage,
    async lookupAccessKey(id) {
      const k = byId.get(id);
      return k && { secretAccessKey: k.secretAccessKey, userId: k.userId, projectId: k.projectId, ownerDisplayName: k.ownerDisplayName ?? k.userId };
    },
    async authorize() { return 'allow'; },
    async checkQuota(projectId, resource, delta) {
      const limit = quotas[projectId]?.[resource];
      if (limit === undefined) return;
      const key = `${projectId}:${resource}`;
      const cur = usage.get(key) ?? 0;
      if (delta > 0 && cur + delta > limit) throw new YunError('QuotaExceeded', `project ${projectId} ${resource} quota exceeded`);
      usage.set(key, Math.max(0, cur + delta));
    },
  };
}
