import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { YunError } from '../core/errors.ts';
import type { Role, Scope } from './types.ts';

const Name = Type.String({ minLength: 1, maxLength: 63 });
const RoleT = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('reader')]);
const obj = <T extends Record<string, import('@sinclair/typebox').TSchema>>(p: T) => Type.Object(p, { additionalProperties: false });
const tags = ['identity'];

/** Users, projects, memberships, tokens, access keys, policies, quotas, regions. */
export function identityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { identity, authz } = ctx;
  const can = async (req: FastifyRequest, action: string, path: string): Promise<Scope> => {
    const scope = await req.scope();
    await authz.authorize(req.principal!, scope, `identity:${action}`, authz.resourceName('identity', scope.project.id, path), { 'yun:SourceIp': req.ip });
    return scope;
  };
  const adminOnly = (req: FastifyRequest, what: string) => {
    if (!req.principal!.isAdmin) throw new YunError('Forbidden', `only cloud admins may ${what}`);
  };

  app.post('/auth/login', { config: { auth: false }, schema: { tags, summary: 'Log in with a user name and password', body: obj({ user: Name, password: Type.String({ maxLength: 1024 }) }) } }, async (req) => {
    const b = req.body as { user: string; password: string };
    const r = await identity.login(b.user, b.password, req.ip);
    return { token: r.token, expiresAt: r.expiresAt, user: r.user.name };
  });
  app.post('/auth/logout', { schema: { tags, summary: 'Revoke the calling token' } }, async (req, reply) => {
    if (req.principal!.tokenId) await identity.revokeToken(req.principal!.userId, req.principal!.tokenId);
    return reply.code(204).send();
  });
  app.get('/whoami', { schema: { tags, summary: 'The caller, its memberships and the current project' } }, async (req) => {
    const p = req.principal!;
    const scope = await req.scope().catch(() => undefined);
    return { user: p.userName, userId: p.userId, isAdmin: p.isAdmin, project: scope?.project.name, projectId: scope?.project.id, role: scope?.role, memberships: (await identity.membershipsOfUser(p.userId)).map((m) => ({ project: m.projectName, role: m.role })) };
  });

  // projects
  app.get('/projects', { schema: { tags, summary: 'Projects the caller can see' } }, async (req) => ({ items: await identity.listProjects(req.principal!) }));
  app.post('/projects', { schema: { tags, summary: 'Create a project (cloud admins)', body: obj({ name: Name, description: Type.Optional(Type.String({ maxLength: 1024 })), labels: Type.Optional(Type.Record(Type.String(), Type.String())) }) } }, async (req, reply) => {
    adminOnly(req, 'create projects');
    return reply.code(201).send(await identity.createProject(req.body as { name: string }, req.principal));
  });
  const visibleProject = async (req: FastifyRequest, name: string) => (await authz.scope(req.principal!, name)).project;
  app.get('/projects/:name', { schema: { tags, params: obj({ name: Type.String() }) } }, async (req) => {
    const p = await visibleProject(req, (req.params as { name: string }).name);
    return { ...p, quotas: await identity.quotas(p.id), members: await identity.listMembers(p.id) };
  });
  app.delete('/projects/:name', { schema: { tags, params: obj({ name: Type.String() }) } }, async (req, reply) => {
    const p = await visibleProject(req, (req.params as { name: string }).name);
    adminOnly(req, 'delete projects');
    await identity.deleteProject(p);
    return reply.code(204).send();
  });
  app.get('/projects/:name/members', { schema: { tags, params: obj({ name: Type.String() }) } }, async (req) => {
    const p = await visibleProject(req, (req.params as { name: string }).name);
    return { items: await identity.listMembers(p.id) };
  });
  app.put('/projects/:name/members/:user', { schema: { tags, summary: 'Grant a role in a project', params: obj({ name: Type.String(), user: Type.String() }), body: obj({ role: RoleT }) } }, async (req) => {
    const { name, user } = req.params as { name: string; user: string };
    const scope = await authz.scope(req.principal!, name);
    await authz.authorize(req.principal!, scope, 'identity:UpdateMembership', authz.resourceName('identity', scope.project.id, `membership/${user}`));
    return identity.setMembership(scope.project.id, user, (req.body as { role: Role }).role);
  });
  app.delete('/projects/:name/members/:user', { schema: { tags, params: obj({ name: Type.String(), user: Type.String() }) } }, async (req, reply) => {
    const { name, user } = req.params as { name: string; user: string };
    const scope = await authz.scope(req.principal!, name);
    await authz.authorize(req.principal!, scope, 'identity:DeleteMembership', authz.resourceName('identity', scope.project.id, `membership/${user}`));
    await identity.removeMembership(scope.project.id, user);
    return reply.code(204).send();
  });

  // users
  app.get('/users', { schema: { tags, summary: 'Users of the current project (all users for cloud admins)', querystring: obj({ project: Type.Optional(Type.String()), all: Type.Optional(Type.Boolean()) }) } }, async (req) => {
    const scope = await can(req, 'ListUsers', 'user/*');
    const all = (req.query as { all?: boolean }).all && req.principal!.isAdmin;
    return { items: await identity.listUsers(all ? undefined : scope.project.id) };
  });
  app.post('/users', {
    schema: {
      tags, summary: 'Create a user, optionally as a member of the current project',
      body: obj({ name: Name, password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })), email: Type.Optional(Type.String({ maxLength: 254 })), role: Type.Optional(RoleT), admin: Type.Optional(Type.Boolean()), project: Type.Optional(Type.String()) }),
    },
  }, async (req, reply) => {
    const b = req.body as { name: string; password?: string; email?: string; role?: Role; admin?: boolean; project?: string };
    const scope = await can(req, 'CreateUser', `user/${b.name}`);
    if (b.admin) adminOnly(req, 'create cloud admins');
    const project = b.project ? (await authz.scope(req.principal!, b.project)).project.id : (req.principal!.isAdmin && !b.role ? undefined : scope.project.id);
    const out = await identity.createUser({ name: b.name, password: b.password, email: b.email, isAdmin: b.admin, project, role: b.role });
    return reply.code(201).send({ ...out.user, ...(out.password ? { password: out.password } : {}) });
  });
  app.get('/users/:name', { schema: { tags, params: obj({ name: Type.String() }) } }, async (req) => {
    const { name } = req.params as { name: string };
    const scope = await can(req, 'GetUser', `user/${name}`);
    const u = await identity.requireUser(name);
    if (!req.principal!.isAdmin && !(await identity.roleIn(u.id, scope.project.id))) throw new YunError('NotFound', `user '${name}' not found`);
    return u;
  });
  app.delete('/users/:name', { schema: { tags, params: obj({ name: Type.String() }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const scope = await can(req, 'DeleteUser', `user/${name}`);
    const u = await identity.requireUser(name);
    if (!req.principal!.isAdmin) {
      if (!(await identity.roleIn(u.id, scope.project.id))) throw new YunError('NotFound', `user '${name}' not found`);
      const others = (await identity.membershipsOfUser(u.id)).filter((m) => m.projectId !== scope.project.id);
      if (others.length || u.isAdmin) throw new YunError('Forbidden', 'this user belongs to other projects; only cloud admins may delete it');
    }
    if (u.id === req.principal!.userId) throw new YunError('InvalidState', 'you cannot delete yourself');
    await identity.deleteUser(u.id);
    return reply.code(204).send();
  });

  // tokens
  app.get('/tokens', { schema: { tags } }, async (req) => {
    await can(req, 'ListTokens', 'token/*');
    return { items: await identity.listTokens(req.principal!.userId) };
  });
  app.post('/tokens', { schema: { tags, summary: 'Create a long-lived API token (shown once)', body: obj({ name: Type.String({ minLength: 1, maxLength: 64 }), ttlSeconds: Type.Optional(Type.Integer({ minimum: 1 })), project: Type.Optional(Type.String()) }) } }, async (req, reply) => {
    const b = req.body as { name: string; ttlSeconds?: number; project?: string };
    await can(req, 'CreateToken', `token/${b.name}`);
    const projectId = b.project ? (await authz.scope(req.principal!, b.project)).project.id : undefined;
    const out = await identity.createApiToken(req.principal!.userId, { name: b.name, ttlSeconds: b.ttlSeconds, projectId });
    return reply.code(201).send({ ...out.info, token: out.token });
  });
  app.delete('/tokens/:id', { schema: { tags, params: obj({ id: Type.String() }) } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await can(req, 'RevokeToken', `token/${id}`);
    await identity.revokeToken(req.principal!.userId, id, req.principal!.isAdmin);
    return reply.code(204).send();
  });

  // access keys
  app.get('/access-keys', { schema: { tags, querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req) => {
    const scope = await can(req, 'ListAccessKeys', 'access-key/*');
    const mine = scope.role === 'admin' || scope.role === 'system-admin' ? {} : { userId: req.principal!.userId };
    return { items: await identity.listAccessKeys({ ...mine, projectId: scope.project.id }) };
  });
  app.post('/access-keys', { schema: { tags, summary: 'Create an S3 access key for the caller in the current project (secret shown once)', querystring: obj({ project: Type.Optional(Type.String()) }), body: Type.Optional(obj({ description: Type.Optional(Type.String({ maxLength: 256 })) })) } }, async (req, reply) => {
    const scope = await can(req, 'CreateAccessKey', 'access-key/*');
    const out = await identity.createAccessKey(req.principal!.userId, scope.project.id, (req.body as { description?: string } | undefined)?.description);
    return reply.code(201).send({ ...out.info, secretAccessKey: out.secretAccessKey, project: scope.project.name });
  });
  app.delete('/access-keys/:id', { schema: { tags, params: obj({ id: Type.String() }), querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const scope = await can(req, 'DeleteAccessKey', `access-key/${id}`);
    const mine = scope.role === 'admin' || scope.role === 'system-admin' ? undefined : req.principal!.userId;
    await identity.deleteAccessKey(id, { userId: mine, projectId: scope.project.id });
    return reply.code(204).send();
  });

  // policies
  app.get('/policies', { schema: { tags, querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req) => {
    const scope = await can(req, 'ListPolicies', 'policy/*');
    return { items: await identity.listPolicies(scope.project.id) };
  });
  app.post('/policies', { schema: { tags, summary: 'Create an IAM-style policy', querystring: obj({ project: Type.Optional(Type.String()) }), body: obj({ name: Name, document: Type.Unknown() }) } }, async (req, reply) => {
    const b = req.body as { name: string; document: unknown };
    const scope = await can(req, 'CreatePolicy', `policy/${b.name}`);
    return reply.code(201).send(await identity.createPolicy(scope.project.id, b.name, b.document));
  });
  app.delete('/policies/:name', { schema: { tags, params: obj({ name: Type.String() }), querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const scope = await can(req, 'DeletePolicy', `policy/${name}`);
    await identity.deletePolicy(scope.project.id, name);
    return reply.code(204).send();
  });
  app.post('/policies/:name/attachments', { schema: { tags, summary: 'Attach a policy to a user', params: obj({ name: Type.String() }), querystring: obj({ project: Type.Optional(Type.String()) }), body: obj({ user: Type.String() }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const scope = await can(req, 'AttachPolicy', `policy/${name}`);
    await identity.attachPolicy(scope.project.id, name, (req.body as { user: string }).user);
    return reply.code(204).send();
  });
  app.delete('/policies/:name/attachments/:user', { schema: { tags, params: obj({ name: Type.String(), user: Type.String() }), querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req, reply) => {
    const { name, user } = req.params as { name: string; user: string };
    const scope = await can(req, 'DetachPolicy', `policy/${name}`);
    await identity.detachPolicy(scope.project.id, name, user);
    return reply.code(204).send();
  });

  // quotas
  app.get('/quotas', { schema: { tags, querystring: obj({ project: Type.Optional(Type.String()) }) } }, async (req) => {
    const scope = await can(req, 'GetQuotas', 'quota/*');
    return { project: scope.project.name, items: await identity.quotas(scope.project.id) };
  });
  app.put('/quotas/:resource', { schema: { tags, summary: 'Set a quota limit (cloud admins)', params: obj({ resource: Type.String() }), querystring: obj({ project: Type.Optional(Type.String()) }), body: obj({ limit: Type.Integer({ minimum: -1 }) }) } }, async (req) => {
    const scope = await req.scope();
    adminOnly(req, 'set quotas');
    const { resource } = req.params as { resource: string };
    await identity.setQuota(scope.project.id, resource, (req.body as { limit: number }).limit);
    return { project: scope.project.name, items: await identity.quotas(scope.project.id) };
  });

  app.get('/regions', { schema: { tags, summary: 'Regions and zones of this cloud' } }, async () => ({
    items: [{ name: ctx.config.region, zones: [ctx.config.zone], endpoints: { api: `http://${ctx.config.host}:${ctx.config.apiPort}`, s3: `http://${ctx.config.host}:${ctx.config.s3Port}` } }],
  }));
}
