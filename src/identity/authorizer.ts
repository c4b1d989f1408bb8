import { YunError, notFound } from '../core/errors.ts';
import { type ConditionContext, type Decision, evaluatePolicies } from './policy.ts';
import type { IdentityService } from './service.ts';
import type { Principal, Role, Scope } from './types.ts';

const READ_VERB = /^(Get|List|Describe|Head|Watch|Query)/;
/** Identity actions any member may take on their own credentials. */
const SELF_SERVICE = new Set(['identity:CreateToken', 'identity:ListTokens', 'identity:RevokeToken', 'identity:CreateAccessKey', 'identity:ListAccessKeys', 'identity:DeleteAccessKey', 'identity:GetCaller']);

export function roleAllows(role: Role | 'system-admin', action: string): boolean {
  if (role === 'system-admin' || role === 'admin') return true;
  const [service, verb = ''] = action.split(':');
  if (SELF_SERVICE.has(action)) return true;
  if (role === 'reader') return READ_VERB.test(verb);
  // member: everything except administering identity.
  return service !== 'identity' || READ_VERB.test(verb);
}

/**
 * The one authorizer every service and protocol edge uses. A project the
 * caller cannot see answers NotFound, exactly like a missing one; inside a
 * visible project, role grants combine with attached IAM policies and an
 * explicit Deny beats every Allow.
 */
export class Authorizer {
  constructor(private readonly identity: IdentityService, readonly region: string) {}

  /**
   * The project a request acts in: the named one, else the credential's
   * bound one, else the caller's first. Cached with the identity lookups it
   * is made of (every request asks it), so it follows their invalidation.
   */
  scope(p: Principal, projectRef?: string): Promise<Scope> {
    return this.identity.cached(`scope:${p.userId}:${p.isAdmin ? 1 : 0}:${p.boundProjectId ?? ''}:${projectRef ?? ''}`, () => this.resolveScope(p, projectRef));
  }

  private async resolveScope(p: Principal, projectRef?: string): Promise<Scope> {
    const ref = projectRef ?? p.boundProjectId;
    if (ref) {
      const project = await this.identity.getProject(ref);
      if (!project) throw notFound('project', ref);
      if (p.boundProjectId && p.boundProjectId !== project.id && !p.isAdmin) throw notFound('project', ref);
      if (p.isAdmin) return { project, role: 'system-admin' };
      const role = await this.identity.roleIn(p.userId, project.id);
      if (!role) throw notFound('project', ref);
      return { project, role };
    }
    const ms = await this.identity.membershipsOfUser(p.userId);
    if (ms.length === 0) {
      if (p.isAdmin) {
        const def = await this.identity.getProject('default');
        if (def) return { project: def, role: 'system-admin' };
      }
      throw new YunError('NotFound', 'you are not a member of any project; pass one with X-Yun-Project');
    }
    const first = ms.find((m) => m.projectName === 'default') ?? ms[0]!;
    const project = (await this.identity.getProject(first.projectId))!;
    return { project, role: p.isAdmin ? 'system-admin' : first.role };
  }

  /** `yrn:yun:<service>:<region>:<project>:<kind>/<name>` */
  resourceName(service: string, projectId: string, path: string): string {
    return `yrn:yun:${service}:${this.region}:${projectId}:${path}`;
  }

  async decide(p: Principal, scope: Scope, action: string, resource: string, ctx: ConditionContext = {}): Promise<Decision> {
    const docs = scope.role === 'system-admin' ? [] : await this.identity.policiesFor(p.userId, scope.project.id);
    // No policies (the common case) decide nothing: skip building their condition context.
    const fromPolicies = docs.length === 0 ? 'implicit-deny' : evaluatePolicies(docs, action, resource, {
      'yun:username': p.userName, 'yun:project': scope.project.name, 'yun:CurrentTime': new Date().toISOString(), ...ctx,
    });
    if (fromPolicies === 'deny') return 'deny';
    if (fromPolicies === 'allow' || roleAllows(scope.role, action)) return 'allow';
    return 'implicit-deny';
  }

  async authorize(p: Principal, scope: Scope, action: string, resource: string, ctx: ConditionContext = {}): Promise<void> {
    const d = await this.decide(p, scope, action, resource, ctx);
    if (d !== 'allow') throw new YunError('Forbidden', `${p.userName} may not ${action} on ${resource}`, { details: { action } });
  }
}
