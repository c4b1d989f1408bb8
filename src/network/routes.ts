/**
 * REST surface of the network service: CRUD for the four kinds through the
 * shared resource factory, plus actions — security group rule add/delete and
 * the port (IPAM) listings of a network.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { etag, registerResource } from '../api/resources.ts';
import { YunError } from '../core/errors.ts';
import { Resources } from '../store/resources.ts';
import { type HostPortPolicy, floatingIpDef } from './floating-ips.ts';
import { guardNetworkLbs, loadBalancerDef } from './load-balancers.ts';
import { ensureDefaultNetwork, networkDef } from './networks.ts';
import { portsOfNetwork } from './ports.ts';
import { normalizeRule, ruleText, sameRule } from './rules.ts';
import { checkRemoteGroups, ensureDefaultGroup, securityGroupDef } from './security-groups.ts';
import { KIND, RuleInput, type SecurityGroupSpec } from './types.ts';

const NameParams = Type.Object({ name: Type.String({ maxLength: 128 }) });

/**
 * Routes live in their own encapsulated plugin so the hook that creates the
 * project's `default` network and security group on first listing touches
 * only these routes.
 */
export async function networkRoutes(parent: FastifyInstance, ctx: ApiContext, policy: HostPortPolicy): Promise<void> {
  await parent.register(async (app) => routes(app, ctx, policy));
}

function routes(app: FastifyInstance, ctx: ApiContext, policy: HostPortPolicy): void {
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' || !/\/(networks|security-groups)$/.test(req.routeOptions.url ?? '')) return;
    const scope = await req.scope();
    try {
      await ctx.store.tx(async (q) => {
        await ensureDefaultNetwork(q, ctx.identity, scope.project.id);
        await ensureDefaultGroup(q, ctx.identity, scope.project.id);
      });
      ctx.bus.poke();
    } catch (err) {
      req.log.warn({ err }, 'could not create the default network or security group');
    }
  });
  registerResource(app, ctx, networkDef(ctx.identity, guardNetworkLbs));
  registerResource(app, ctx, securityGroupDef(ctx.identity));
  registerResource(app, ctx, floatingIpDef(ctx.identity, policy));
  registerResource(app, ctx, loadBalancerDef(ctx.identity, policy));

  const authorize = async (req: FastifyRequest, action: string, kind: string, name: string) => {
    const scope = await req.scope();
    await ctx.authz.authorize(req.principal!, scope, `network:${action}`, ctx.authz.resourceName('network', scope.project.id, `${kind}/${name}`), { 'yun:SourceIp': req.ip });
    return scope;
  };

  app.get('/networks/:name/ports', { schema: { summary: 'IP allocations (ports) of a network', tags: ['network'], params: NameParams } }, async (req) => {
    const { name } = req.params as { name: string };
    const scope = await authorize(req, 'GetNetwork', KIND.network, name);
    const net = await new Resources(ctx.store).require(KIND.network, scope.project.id, name);
    const items = (await portsOfNetwork(ctx.store, net.id)).map((p) => ({ instance: p.instanceName, instanceId: p.instanceId, ip: p.ip, securityGroups: p.securityGroups, dnsName: p.dnsName, nic: p.nic, createdAt: p.createdAt }));
    return { items };
  });

  const editRules = async (req: FastifyRequest, edit: (rules: SecurityGroupSpec['rules'], rule: ReturnType<typeof normalizeRule>) => SecurityGroupSpec['rules']) => {
    const { name } = req.params as { name: string };
    const body = req.body as { rule: unknown };
    const scope = await authorize(req, 'UpdateSecurityGroup', KIND.securityGroup, name);
    const rule = normalizeRule(body.rule, '/rule');
    const r = await ctx.store.tx(async (q) => {
      const res = new Resources(q);
      const sg = await res.require<SecurityGroupSpec>(KIND.securityGroup, scope.project.id, name);
      const rules = edit(sg.spec.rules, rule);
      await checkRemoteGroups(q, sg.project, sg.name, [rule], '/rule');
      return res.updateSpec(sg, { spec: { ...sg.spec, rules } });
    });
    ctx.bus.poke();
    return r;
  };

  const RuleBody = Type.Object({ rule: RuleInput }, { additionalProperties: false });
  app.post('/security-groups/:name/rules', { schema: { summary: 'Add a rule (text `ingress tcp 80 0.0.0.0/0` or object)', tags: ['network'], params: NameParams, body: RuleBody } }, async (req, reply) => {
    const r = await editRules(req, (rules, rule) => {
      if (rules.some((x) => sameRule(x, rule))) throw new YunError('AlreadyExists', `rule '${ruleText(rule)}' already exists`, { field: '/rule' });
      return [...rules, rule];
    });
    void reply.header('etag', etag(r));
    return reply.code(201).send(r);
  });
  app.post('/security-groups/:name/rules/delete', { schema: { summary: 'Delete a rule (same text or object as added)', tags: ['network'], params: NameParams, body: RuleBody } }, async (req, reply) => {
    const r = await editRules(req, (rules, rule) => {
      const next = rules.filter((x) => !sameRule(x, rule));
      if (next.length === rules.length) throw new YunError('NotFound', `rule '${ruleText(rule)}' not found`, { field: '/rule' });
      return next;
    });
    void reply.header('etag', etag(r));
    return r;
  });
}
