/**
 * Security groups: named rule sets attached to instance ports. Rules are
 * stateful allow rules; with no ingress rule nothing new gets in, with no
 * egress rule everything may leave (the driver implements both defaults).
 * A rule naming another group (`sg:web`) matches the current addresses of
 * that group's ports; the group must be in the same project (else 404).
 */
import { YunError } from '../core/errors.ts';
import type { Resource } from '../core/resource.ts';
import type { ResourceCallContext, ResourceDef } from '../api/resources.ts';
import type { IdentityService } from '../identity/service.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { allPorts } from './ports.ts';
import { type SgRule, normalizeRule } from './rules.ts';
import { KIND, type SecurityGroupSpec, SecurityGroupSpecSchema } from './types.ts';

export type SecurityGroupResource = Resource<SecurityGroupSpec>;

export const DEFAULT_GROUP = 'default';

/** The `default` group: members reach each other on anything; all egress. */
export const defaultGroupRules = (): SgRule[] => [
  { direction: 'ingress', protocol: 'any', remoteGroup: DEFAULT_GROUP },
  { direction: 'egress', protocol: 'any' },
];

export function normalizeRules(rules: unknown[] | undefined, base = '/spec/rules'): SgRule[] {
  return (rules ?? []).map((r, i) => normalizeRule(r, `${base}/${i}`));
}

/** Every remote group a rule names must exist in the project (or be the group itself). */
export async function checkRemoteGroups(q: Sql, project: string, selfName: string, rules: SgRule[], base = '/spec/rules'): Promise<void> {
  const res = new Resources(q);
  for (const [i, r] of rules.entries()) {
    if (!r.remoteGroup || r.remoteGroup === selfName) continue;
    if (!(await res.get(KIND.securityGroup, project, r.remoteGroup))) {
      throw new YunError('NotFound', `security group '${r.remoteGroup}' not found`, { field: `${base}/${i}/remoteGroup`, details: { kind: KIND.securityGroup, name: r.remoteGroup } });
    }
  }
}

async function guardDelete(r: SecurityGroupResource, c: ResourceCallContext): Promise<void> {
  const users = (await allPorts(c.q)).filter((p) => p.project === r.project && p.securityGroups.includes(r.name));
  if (users.length) throw new YunError('InvalidState', `security group '${r.name}' is used by instance(s) ${[...new Set(users.map((p) => p.instanceName))].join(', ')}`);
  const refs = (await c.resources.all<SecurityGroupSpec>(KIND.securityGroup, r.project))
    .filter((g) => g.id !== r.id && g.spec.rules.some((x) => x.remoteGroup === r.name));
  if (refs.length) throw new YunError('InvalidState', `security group '${r.name}' is referenced by the rules of ${refs.map((g) => g.name).join(', ')}`);
}

export function securityGroupDef(identity: IdentityService): ResourceDef<SecurityGroupSpec> {
  return {
    kind: KIND.securityGroup, plural: 'security-groups', service: 'network', idPrefix: 'sg', spec: SecurityGroupSpecSchema, deletion: 'immediate',
    prepare: async (spec) => ({ ...(spec.description !== undefined ? { description: spec.description } : {}), rules: normalizeRules(spec.rules as unknown[]) }),
    afterCreate: async (r, c) => {
      await checkRemoteGroups(c.q, r.project, r.name, r.spec.rules);
      await identity.consumeQuota(c.q, r.project, { security_groups: 1 });
    },
    beforeUpdate: (prev, next, c) => checkRemoteGroups(c.q, prev.project, prev.name, next.rules),
    beforeDelete: async (r, c) => {
      await guardDelete(r, c);
      await identity.consumeQuota(c.q, r.project, { security_groups: -1 });
    },
  };
}

/** The project's `default` group, created on first use inside the caller's transaction. */
export async function ensureDefaultGroup(q: Sql, identity: IdentityService, project: string): Promise<void> {
  const res = new Resources(q);
  if (await res.get(KIND.securityGroup, project, DEFAULT_GROUP)) return;
  await res.create<SecurityGroupSpec, Record<string, unknown>>({
    kind: KIND.securityGroup, project, name: DEFAULT_GROUP, idPrefix: 'sg',
    spec: { description: 'members reach each other; all egress', rules: defaultGroupRules() },
  });
  await identity.consumeQuota(q, project, { security_groups: 1 });
}
