import type { Command } from 'commander';
import type { CliEnv } from '../env.ts';
import { YunClient } from '../../sdk/client.ts';

const roleOpt = (s: string) => {
  if (!['admin', 'member', 'reader'].includes(s)) throw new Error(`role must be admin, member or reader (got '${s}')`);
  return s;
};

/** login/logout/whoami, projects, users, roles, tokens, access keys, policies, quotas, regions, hosts. */
export function registerIdentityCommands(program: Command, env: CliEnv): void {
  program.command('login').description('log in and save a profile')
    .requiredOption('--endpoint <url>', 'API endpoint, e.g. http://127.0.0.1:8400')
    .requiredOption('--user <name>').requiredOption('--password <password>')
    .action(async (o: { endpoint: string; user: string; password: string }) => {
      const c = new YunClient({ endpoint: o.endpoint });
      const r = await c.login(o.user, o.password);
      const name = await env.profileName();
      const who = await c.whoami();
      await env.profiles().save(name, { endpoint: o.endpoint, project: who.project }, { token: r.token, user: r.user });
      env.out({ profile: name, user: r.user, project: who.project, expiresAt: r.expiresAt });
    });
  program.command('logout').description('revoke this profile\'s token and forget it').action(async () => {
    const c = await env.client();
    await c.logout().catch(() => undefined);
    await env.profiles().forget(await env.profileName());
    env.out({ loggedOut: true });
  });
  program.command('whoami').description('who the current profile is').action(async () => {
    const w = await (await env.client()).whoami();
    env.out(w);
  });

  const project = program.command('project').description('projects (tenants)');
  project.command('list').action(async () => env.out((await (await env.client()).projects.list()).items, ['name', 'id', 'description', 'createdAt']));
  project.command('create <name>').option('--description <text>').action(async (name: string, o: { description?: string }) => env.out(await (await env.client()).projects.create(name, o.description)));
  project.command('show <name>').action(async (name: string) => env.out(await (await env.client()).projects.get(name)));
  project.command('delete <name>').action(async (name: string) => { await (await env.client()).projects.delete(name); env.out({ deleted: name }); });

  const user = program.command('user').description('users');
  user.command('list').option('--all', 'every user (cloud admins)').action(async (o: { all?: boolean }) => env.out((await (await env.client()).users.list(o.all)).items, ['name', 'id', 'isAdmin', 'createdAt']));
  user.command('create <name>').description('create a user; without --password one is generated and printed once')
    .option('--password <password>').option('--role <role>', 'admin|member|reader in the project', roleOpt).option('--admin', 'cloud admin').option('--email <email>')
    .action(async (name: string, o: { password?: string; role?: string; admin?: boolean; email?: string }) => {
      const c = await env.client();
      env.out(await c.users.create({ name, password: o.password, role: o.role, admin: o.admin, email: o.email, project: program.opts().project }));
    });
  user.command('show <name>').action(async (name: string) => env.out(await (await env.client()).users.get(name)));
  user.command('delete <name>').action(async (name: string) => { await (await env.client()).users.delete(name); env.out({ deleted: name }); });

  const role = program.command('role').description('memberships: who has which role in a project');
  role.command('list').action(async () => {
    const c = await env.client();
    const w = await c.whoami();
    env.out((await c.projects.members(w.project!)).items, ['userName', 'role', 'projectName']);
  });
  role.command('grant <user> <role>').action(async (u: string, r: string) => {
    const c = await env.client();
    env.out(await c.projects.grant((await c.whoami()).project!, u, roleOpt(r)));
  });
  role.command('revoke <user>').action(async (u: string) => {
    const c = await env.client();
    await c.projects.revoke((await c.whoami()).project!, u);
    env.out({ revoked: u });
  });

  const token = program.command('token').description('API tokens');
  token.command('list').action(async () => env.out((await (await env.client()).tokens.list()).items, ['id', 'name', 'kind', 'expiresAt', 'createdAt']));
  token.command('create <name>').option('--ttl <seconds>', 'lifetime in seconds', Number).action(async (name: string, o: { ttl?: number }) => env.out(await (await env.client()).tokens.create(name, o.ttl)));
  token.command('revoke <id>').action(async (id: string) => { await (await env.client()).tokens.revoke(id); env.out({ revoked: id }); });

  const ak = program.command('access-key').description('S3 access keys');
  ak.command('list').action(async () => env.out((await (await env.client()).accessKeys.list()).items, ['accessKeyId', 'userId', 'description', 'createdAt']));
  ak.command('create').description('prints accessKeyId and secretAccessKey once').option('--description <text>')
    .action(async (o: { description?: string }) => env.out(await (await env.client()).accessKeys.create(o.description)));
  ak.command('delete <id>').action(async (id: string) => { await (await env.client()).accessKeys.delete(id); env.out({ deleted: id }); });

  const policy = program.command('policy').description('IAM-style JSON policies');
  policy.command('list').action(async () => env.out((await (await env.client()).policies.list()).items, ['name', 'id', 'attachedTo']));
  policy.command('create <name>').requiredOption('--document <json|@file>', 'policy JSON, or @path to read it from a file')
    .action(async (name: string, o: { document: string }) => {
      const { readFile } = await import('node:fs/promises');
      const text = o.document.startsWith('@') ? await readFile(o.document.slice(1), 'utf8') : o.document;
      let doc: unknown;
      try { doc = JSON.parse(text); } catch { throw new Error('--document is not valid JSON'); }
      env.out(await (await env.client()).policies.create(name, doc));
    });
  policy.command('delete <name>').action(async (name: string) => { await (await env.client()).policies.delete(name); env.out({ deleted: name }); });
  policy.command('attach <name>').requiredOption('--user <user>').action(async (name: string, o: { user: string }) => { await (await env.client()).policies.attach(name, o.user); env.out({ attached: name, user: o.user }); });
  policy.command('detach <name>').requiredOption('--user <user>').action(async (name: string, o: { user: string }) => { await (await env.client()).policies.detach(name, o.user); env.out({ detached: name, user: o.user }); });

  const quota = program.command('quota').description('project quotas');
  quota.command('show').action(async () => env.out((await (await env.client()).quotas.show()).items, ['resource', 'limit', 'used']));
  quota.command('set <resource> <limit>').description('cloud admins; -1 = unlimited').action(async (r: string, l: string) => {
    const n = Number(l);
    if (!Number.isInteger(n)) throw new Error(`limit must be an integer, got '${l}'`);
    env.out((await (await env.client()).quotas.set(r, n)).items, ['resource', 'limit', 'used']);
  });

  program.command('region').description('regions').command('list').action(async () => env.out((await (await env.client()).regions()).items, ['name', 'zones', 'endpoints']));
  program.command('host').description('hosts').command('list').action(async () =>
    env.out((await (await env.client()).hosts.listAll()).map((h) => ({ ...h, ...h.spec, ...h.status })), ['name', 'zone', 'pool', 'capacity', 'overcommit', 'state', 'lastHeartbeat']));
}
