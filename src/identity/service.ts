import { YunError, invalid, notFound } from '../core/errors.ts';
import { NAME_RE, newId, randomToken } from '../core/ids.ts';
import { isUniqueViolation } from '../store/index.ts';
import type { Sql, StateStore } from '../store/types.ts';
import { ShortCache } from './cache.ts';
import { SecretBox, hashPassword, randomPassword, randomSecret, sha256, verifyPassword } from './crypto.ts';
import { type PolicyDocument, validatePolicy } from './policy.ts';
import { LoginThrottle } from './throttle.ts';
import {
  type AccessKeyInfo, DEFAULT_QUOTAS, type Membership, type Principal, type Project, type QuotaEntry, ROLES, type Role,
  type TokenInfo, type User,
} from './types.ts';

export interface IdentityOptions {
  store: StateStore;
  masterKey: Buffer;
  tokenTtlSeconds: number;
  throttle?: LoginThrottle;
}

const now = () => new Date().toISOString();
const nameOk = (field: string, v: unknown): string => {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw invalid(field, `'${String(v)}' is not a valid name (lowercase letters, digits, '-', 1–63 chars)`);
  return v;
};

interface UserRow { id: string; name: string; password_hash: string; is_admin: number; email: string | null; created_at: string }
interface ProjectRow { id: string; name: string; description: string; labels: string; created_at: string }

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, email: r.email ?? undefined, isAdmin: Boolean(Number(r.is_admin)), createdAt: r.created_at });
const toProject = (r: ProjectRow): Project => ({ id: r.id, name: r.name, description: r.description, labels: JSON.parse(r.labels), createdAt: r.created_at });

/** Users, projects, memberships, tokens, access keys, policies and quotas. */
export class IdentityService {
  readonly store: StateStore;
  private readonly box: SecretBox;
  private readonly ttl: number;
  readonly throttle: LoginThrottle;
  private readonly cache = new ShortCache();

  /**
   * Read-through lookup in the identity cache (TTL 1 s, cleared by every
   * identity write on this replica), for values derived only from identity
   * state, e.g. a request's resolved scope. A rejection is not kept.
   */
  cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load) as Promise<T>;
  }

  constructor(o: IdentityOptions) {
    this.store = o.store;
    this.box = new SecretBox(o.masterKey);
    this.ttl = o.tokenTtlSeconds;
    this.throttle = o.throttle ?? new LoginThrottle();
  }

  /** First start: an admin user with a random password, a `default` project. Returns the password once. */
  async bootstrap(adminName: string): Promise<{ created: boolean; user: string; password?: string; project: string }> {
    const any = await this.store.get('SELECT id FROM users LIMIT 1');
    if (any) return { created: false, user: adminName, project: 'default' };
    const password = randomPassword();
    await this.store.tx(async (q) => {
      const u = await this.insertUser(q, { name: adminName, password, isAdmin: true });
      const p = await this.insertProject(q, { name: 'default', description: 'Default project' });
      await q.run('INSERT INTO memberships (user_id, project_id, role, created_at) VALUES (?, ?, ?, ?)', [u.id, p.id, 'admin', now()]);
    });
    return { created: true, user: adminName, password, project: 'default' };
  }

  // ---- users ----

  private async insertUser(q: Sql, u: { name: string; password: string; isAdmin?: boolean; email?: string }): Promise<User> {
    const row: UserRow = { id: newId('u'), name: u.name, password_hash: await hashPassword(u.password), is_admin: u.isAdmin ? 1 : 0, email: u.email ?? null, created_at: now() };
    try {
      await q.run('INSERT INTO users (id, name, password_hash, is_admin, email, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [row.id, row.name, row.password_hash, row.is_admin, row.email, row.created_at]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new YunError('AlreadyExists', `user '${u.name}' already exists`, { field: '/name' });
      throw e;
    }
    return toUser(row);
  }

  async createUser(input: { name: string; password?: string; email?: string; isAdmin?: boolean; project?: string; role?: Role }): Promise<{ user: User; password?: string }> {
    this.cache.clear();
    nameOk('/name', input.name);
    if (input.password !== undefined && (typeof input.password !== 'string' || input.password.length < 8)) throw invalid('/password', 'password must be at least 8 characters');
    if (input.role !== undefined && !ROLES.includes(input.role)) throw invalid('/role', `role must be one of ${ROLES.join(', ')}`);
    const generated = input.password === undefined ? randomPassword() : undefined;
    const user = await this.store.tx(async (q) => {
      const u = await this.insertUser(q, { name: input.name, password: input.password ?? generated!, isAdmin: input.isAdmin, email: input.email });
      if (input.project) {
        const p = await this.requireProject(input.project, q);
        await q.run('INSERT INTO memberships (user_id, project_id, role, created_at) VALUES (?, ?, ?, ?)', [u.id, p.id, input.role ?? 'member', now()]);
      }
      return u;
    });
    return { user, password: generated };
  }

  async getUser(nameOrId: string): Promise<User | undefined> {
    const r = await this.store.get<UserRow>('SELECT * FROM users WHERE name = ? OR id = ?', [nameOrId, nameOrId]);
    if (!r) return undefined;
    const u = toUser(r);
    u.memberships = (await this.membershipsOfUser(u.id)).map((m) => ({ project: m.projectName, role: m.role }));
    return u;
  }

  async requireUser(nameOrId: string): Promise<User> {
    const u = await this.getUser(nameOrId);
    if (!u) throw notFound('user', nameOrId);
    return u;
  }

  async listUsers(projectId?: string): Promise<User[]> {
    const rows = projectId
      ? await this.store.all<UserRow>('SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.project_id = ? ORDER BY u.name', [projectId])
      : await this.store.all<UserRow>('SELECT * FROM users ORDER BY name');
    return rows.map(toUser);
  }

  async deleteUser(nameOrId: string): Promise<void> {
    this.cache.clear();
    const u = await this.requireUser(nameOrId);
    await this.store.tx(async (q) => {
      await q.run('DELETE FROM memberships WHERE user_id = ?', [u.id]);
      await q.run('UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL', [now(), u.id]);
      await q.run('DELETE FROM access_keys WHERE user_id = ?', [u.id]);
      await q.run('DELETE FROM policy_attachments WHERE user_id = ?', [u.id]);
      await q.run('DELETE FROM users WHERE id = ?', [u.id]);
    });
  }

  async setPassword(userId: string, password: string): Promise<void> {
    this.cache.clear();
    if (password.length < 8) throw invalid('/password', 'password must be at least 8 characters');
    await this.store.run('UPDATE users SET password_hash = ? WHERE id = ?', [await hashPassword(password), userId]);
  }

  // ---- projects ----

  private async insertProject(q: Sql, p: { name: string; description?: string; labels?: Record<string, string> }): Promise<Project> {
    const row: ProjectRow = { id: newId('prj'), name: p.name, description: p.description ?? '', labels: JSON.stringify(p.labels ?? {}), created_at: now() };
    try {
      await q.run('INSERT INTO projects (id, name, description, labels, created_at) VALUES (?, ?, ?, ?, ?)',
        [row.id, row.name, row.description, row.labels, row.created_at]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new YunError('AlreadyExists', `project '${p.name}' already exists`, { field: '/name' });
      throw e;
    }
    for (const [resource, limit] of Object.entries(DEFAULT_QUOTAS)) {
      await q.run('INSERT INTO quotas (project_id, resource, hard_limit, used) VALUES (?, ?, ?, 0)', [row.id, resource, limit]);
    }
    return toProject(row);
  }

  async createProject(input: { name: string; description?: string; labels?: Record<string, string> }, creator?: Principal): Promise<Project> {
    this.cache.clear();
    nameOk('/name', input.name);
    return this.store.tx(async (q) => {
      const p = await this.insertProject(q, input);
      if (creator && !creator.isAdmin) await q.run('INSERT INTO memberships (user_id, project_id, role, created_at) VALUES (?, ?, ?, ?)', [creator.userId, p.id, 'admin', now()]);
      return p;
    });
  }

  async getProject(nameOrId: string, q: Sql = this.store): Promise<Project | undefined> {
    const load = async () => {
      const r = await q.get<ProjectRow>('SELECT * FROM projects WHERE name = ? OR id = ?', [nameOrId, nameOrId]);
      return r ? toProject(r) : undefined;
    };
    return q === this.store ? this.cache.get(`p:${nameOrId}`, load) : load();
  }

  async requireProject(nameOrId: string, q: Sql = this.store): Promise<Project> {
    const p = await this.getProject(nameOrId, q);
    if (!p) throw notFound('project', nameOrId);
    return p;
  }

  async listProjects(principal: Principal): Promise<Project[]> {
    const rows = principal.isAdmin
      ? await this.store.all<ProjectRow>('SELECT * FROM projects ORDER BY name')
      : await this.store.all<ProjectRow>('SELECT p.* FROM projects p JOIN memberships m ON m.project_id = p.id WHERE m.user_id = ? ORDER BY p.name', [principal.userId]);
    return rows.map(toProject);
  }

  /** Refuses while the project still owns resources, so nothing is orphaned. */
  async deleteProject(p: Project): Promise<void> {
    this.cache.clear();
    await this.store.tx(async (q) => {
      const owned = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM resources WHERE project = ?', [p.id]);
      const used = await q.get<{ n: number }>('SELECT COUNT(*) AS n FROM quotas WHERE project_id = ? AND used > 0', [p.id]);
      if (Number(owned?.n ?? 0) > 0 || Number(used?.n ?? 0) > 0) throw new YunError('InvalidState', `project '${p.name}' still has resources; delete them first`);
      for (const t of ['memberships', 'access_keys', 'policies', 'quotas']) await q.run(`DELETE FROM ${t} WHERE project_id = ?`, [p.id]);
      await q.run('DELETE FROM projects WHERE id = ?', [p.id]);
    });
  }

  // ---- memberships ----

  /** Cached like the other per-request lookups (every request without a project asks it); an empty list is not cached. */
  async membershipsOfUser(userId: string): Promise<Membership[]> {
    const ms = await this.cache.get(`m:${userId}`, async () => {
      const rows = (await this.store.all<{ user_id: string; user_name: string; project_id: string; project_name: string; role: Role }>(
        `SELECT m.user_id, u.name AS user_name, m.project_id, p.name AS project_name, m.role FROM memberships m
         JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id WHERE m.user_id = ? ORDER BY p.name`, [userId]))
        .map((r) => ({ userId: r.user_id, userName: r.user_name, projectId: r.project_id, projectName: r.project_name, role: r.role }));
      return rows.length ? rows : undefined;
    });
    return ms ? ms.map((m) => ({ ...m })) : [];
  }

  async listMembers(projectId: string): Promise<Membership[]> {
    return (await this.store.all<{ user_id: string; user_name: string; project_id: string; project_name: string; role: Role }>(
      `SELECT m.user_id, u.name AS user_name, m.project_id, p.name AS project_name, m.role FROM memberships m
       JOIN users u ON u.id = m.user_id JOIN projects p ON p.id = m.project_id WHERE m.project_id = ? ORDER BY u.name`, [projectId]))
      .map((r) => ({ userId: r.user_id, userName: r.user_name, projectId: r.project_id, projectName: r.project_name, role: r.role }));
  }

  async roleIn(userId: string, projectId: string): Promise<Role | undefined> {
    return this.cache.get(`r:${userId}:${projectId}`, async () =>
      (await this.store.get<{ role: Role }>('SELECT role FROM memberships WHERE user_id = ? AND project_id = ?', [userId, projectId]))?.role);
  }

  async setMembership(projectId: string, user: string, role: Role): Promise<Membership> {
    this.cache.clear();
    if (!ROLES.includes(role)) throw invalid('/role', `role must be one of ${ROLES.join(', ')}`);
    const u = await this.requireUser(user);
    await this.store.tx(async (q) => {
      await q.run('DELETE FROM memberships WHERE user_id = ? AND project_id = ?', [u.id, projectId]);
      await q.run('INSERT INTO memberships (user_id, project_id, role, created_at) VALUES (?, ?, ?, ?)', [u.id, projectId, role, now()]);
    });
    const p = await this.requireProject(projectId);
    return { userId: u.id, userName: u.name, projectId, projectName: p.name, role };
  }

  async removeMembership(projectId: string, user: string): Promise<void> {
    this.cache.clear();
    const u = await this.requireUser(user);
    const r = await this.store.run('DELETE FROM memberships WHERE user_id = ? AND project_id = ?', [u.id, projectId]);
    if (r.changes === 0) throw notFound('membership', user);
  }

  // ---- tokens ----

  /** Password login. Brute force is slowed per user name and per source address. */
  async login(name: string, password: string, sourceIp: string): Promise<{ token: string; expiresAt: string; user: User }> {
    const keys = [`u:${name}`, `ip:${sourceIp}`];
    const wait = this.throttle.retryAfterMs(keys);
    if (wait > 0) throw new YunError('TooManyRequests', 'too many failed logins; retry later', { details: { retryAfterSeconds: Math.ceil(wait / 1000) } });
    const r = await this.store.get<UserRow>('SELECT * FROM users WHERE name = ?', [name]);
    const ok = r ? await verifyPassword(password, r.password_hash) : (await hashPassword(password), false);
    if (!r || !ok) {
      this.throttle.fail(keys);
      throw new YunError('Unauthenticated', 'invalid user name or password');
    }
    this.throttle.succeed([`u:${name}`]);
    const expiresAt = new Date(Date.now() + this.ttl * 1000).toISOString();
    const token = await this.issueToken(r.id, 'login', 'login', expiresAt);
    return { token, expiresAt, user: toUser(r) };
  }

  private async issueToken(userId: string, kind: 'login' | 'api', name: string, expiresAt?: string, projectId?: string): Promise<string> {
    const id = randomToken(12);
    const secret = randomSecret(24);
    await this.store.run('INSERT INTO tokens (id, user_id, secret_hash, kind, name, project_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [id, userId, sha256(secret), kind, name, projectId ?? null, expiresAt ?? null, now()]);
    return `yun_${id}_${secret}`;
  }

  async createApiToken(userId: string, input: { name: string; ttlSeconds?: number; projectId?: string }): Promise<{ token: string; info: TokenInfo }> {
    if (typeof input.name !== 'string' || input.name.length < 1 || input.name.length > 64) throw invalid('/name', 'token name must be 1–64 characters');
    if (input.ttlSeconds !== undefined && (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0)) throw invalid('/ttlSeconds', 'ttlSeconds must be a positive integer');
    const expiresAt = input.ttlSeconds ? new Date(Date.now() + input.ttlSeconds * 1000).toISOString() : undefined;
    const token = await this.issueToken(userId, 'api', input.name, expiresAt, input.projectId);
    const id = token.split('_')[1]!;
    return { token, info: { id, name: input.name, kind: 'api', projectId: input.projectId, expiresAt, createdAt: now() } };
  }

  async listTokens(userId: string): Promise<TokenInfo[]> {
    const rows = await this.store.all<{ id: string; name: string; kind: 'login' | 'api'; project_id: string | null; expires_at: string | null; revoked_at: string | null; created_at: string }>(
      'SELECT id, name, kind, project_id, expires_at, revoked_at, created_at FROM tokens WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at', [userId]);
    const t = now();
    return rows.filter((r) => !r.expires_at || r.expires_at > t).map((r) => ({
      id: r.id, name: r.name, kind: r.kind, projectId: r.project_id ?? undefined, expiresAt: r.expires_at ?? undefined, createdAt: r.created_at,
    }));
  }

  async revokeToken(userId: string, tokenId: string, asAdmin = false): Promise<void> {
    this.cache.clear();
    const r = asAdmin
      ? await this.store.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now(), tokenId])
      : await this.store.run('UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL', [now(), tokenId, userId]);
    this.cache.clear(); // again after the write: a concurrent lookup may have cached the old row
    if (r.changes === 0) throw notFound('token', tokenId);
  }

  /**
   * Secrets already checked against a cached token row: hashing every
   * request's secret cost as much as the rest of authentication. The memo
   * lives as long as the cached row (≤ the cache's TTL, and every identity
   * write drops it); a Set lookup reveals nothing of the secret by its timing.
   */
  private readonly verified = new WeakMap<object, Set<string>>();

  private secretMatches(row: { secret_hash: string }, secret: string): boolean {
    const known = this.verified.get(row);
    if (known?.has(secret)) return true;
    if (row.secret_hash !== sha256(secret)) return false;
    if (known) known.add(secret);
    else this.verified.set(row, new Set([secret]));
    return true;
  }

  /** Bearer token → principal; a revoked or expired token is refused at once. */
  async authenticate(bearer: string): Promise<Principal> {
    const m = /^yun_([0-9a-v]{12})_([A-Za-z0-9_-]{32})$/.exec(bearer);
    if (!m) throw new YunError('Unauthenticated', 'malformed token');
    const row = await this.cache.get(`t:${m[1]}`, () => this.store.get<{ user_id: string; secret_hash: string; expires_at: string | null; revoked_at: string | null; project_id: string | null; name: string; is_admin: number }>(
      'SELECT t.user_id, t.secret_hash, t.expires_at, t.revoked_at, t.project_id, u.name, u.is_admin FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?', [m[1]!]));
    if (!row || !this.secretMatches(row, m[2]!)) throw new YunError('Unauthenticated', 'invalid token');
    if (row.revoked_at || (row.expires_at && row.expires_at <= now())) throw new YunError('TokenExpired', 'token expired or revoked');
    return { userId: row.user_id, userName: row.name, isAdmin: Boolean(Number(row.is_admin)), tokenId: m[1], boundProjectId: row.project_id ?? undefined };
  }

  // ---- access keys ----

  async createAccessKey(userId: string, projectId: string, description = ''): Promise<{ accessKeyId: string; secretAccessKey: string; info: AccessKeyInfo }> {
    this.cache.clear();
    const accessKeyId = `YK${randomToken(18).toUpperCase()}`;
    const secretAccessKey = randomSecret(30);
    const createdAt = now();
    await this.store.run('INSERT INTO access_keys (id, user_id, project_id, secret_enc, description, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [accessKeyId, userId, projectId, this.box.seal(secretAccessKey), description, createdAt]);
    return { accessKeyId, secretAccessKey, info: { accessKeyId, userId, projectId, description, createdAt } };
  }

  async listAccessKeys(filter: { userId?: string; projectId?: string }): Promise<AccessKeyInfo[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.userId) { where.push('user_id = ?'); params.push(filter.userId); }
    if (filter.projectId) { where.push('project_id = ?'); params.push(filter.projectId); }
    const rows = await this.store.all<{ id: string; user_id: string; project_id: string; description: string; created_at: string; last_used_at: string | null }>(
      `SELECT id, user_id, project_id, description, created_at, last_used_at FROM access_keys${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at`, params);
    return rows.map((r) => ({ accessKeyId: r.id, userId: r.user_id, projectId: r.project_id, description: r.description, createdAt: r.created_at, lastUsedAt: r.last_used_at ?? undefined }));
  }

  async deleteAccessKey(accessKeyId: string, filter: { userId?: string; projectId: string }): Promise<void> {
    this.cache.clear();
    const r = filter.userId
      ? await this.store.run('DELETE FROM access_keys WHERE id = ? AND project_id = ? AND user_id = ?', [accessKeyId, filter.projectId, filter.userId])
      : await this.store.run('DELETE FROM access_keys WHERE id = ? AND project_id = ?', [accessKeyId, filter.projectId]);
    if (r.changes === 0) throw notFound('access key', accessKeyId);
  }

  /** For SigV4: the plain secret and who it belongs to. */
  lookupAccessKey(accessKeyId: string): Promise<{ secretAccessKey: string; principal: Principal; projectId: string } | undefined> {
    return this.cached(`ak:${accessKeyId}`, () => this.loadAccessKey(accessKeyId));
  }

  private async loadAccessKey(accessKeyId: string): Promise<{ secretAccessKey: string; principal: Principal; projectId: string } | undefined> {
    const r = await this.store.get<{ secret_enc: string; user_id: string; project_id: string; name: string; is_admin: number }>(
      'SELECT k.secret_enc, k.user_id, k.project_id, u.name, u.is_admin FROM access_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?', [accessKeyId]);
    if (!r) return undefined;
    return {
      secretAccessKey: this.box.open(r.secret_enc), projectId: r.project_id,
      principal: { userId: r.user_id, userName: r.name, isAdmin: Boolean(Number(r.is_admin)), accessKeyId, boundProjectId: r.project_id },
    };
  }

  // ---- policies ----

  async createPolicy(projectId: string, name: string, document: unknown): Promise<{ id: string; name: string; document: PolicyDocument }> {
    nameOk('/name', name);
    const doc = validatePolicy(document);
    const id = newId('pol');
    try {
      await this.store.run('INSERT INTO policies (id, project_id, name, document, created_at) VALUES (?, ?, ?, ?, ?)', [id, projectId, name, JSON.stringify(doc), now()]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new YunError('AlreadyExists', `policy '${name}' already exists`, { field: '/name' });
      throw e;
    }
    return { id, name, document: doc };
  }

  async listPolicies(projectId: string): Promise<{ id: string; name: string; document: PolicyDocument; attachedTo: string[] }[]> {
    const rows = await this.store.all<{ id: string; name: string; document: string }>('SELECT id, name, document FROM policies WHERE project_id = ? ORDER BY name', [projectId]);
    const att = await this.store.all<{ policy_id: string; name: string }>(
      'SELECT a.policy_id, u.name FROM policy_attachments a JOIN users u ON u.id = a.user_id JOIN policies p ON p.id = a.policy_id WHERE p.project_id = ?', [projectId]);
    return rows.map((r) => ({ id: r.id, name: r.name, document: JSON.parse(r.document), attachedTo: att.filter((a) => a.policy_id === r.id).map((a) => a.name) }));
  }

  private async requirePolicy(projectId: string, name: string): Promise<{ id: string }> {
    const p = await this.store.get<{ id: string }>('SELECT id FROM policies WHERE project_id = ? AND (name = ? OR id = ?)', [projectId, name, name]);
    if (!p) throw notFound('policy', name);
    return p;
  }

  async deletePolicy(projectId: string, name: string): Promise<void> {
    this.cache.clear();
    const p = await this.requirePolicy(projectId, name);
    await this.store.tx(async (q) => {
      await q.run('DELETE FROM policy_attachments WHERE policy_id = ?', [p.id]);
      await q.run('DELETE FROM policies WHERE id = ?', [p.id]);
    });
  }

  async attachPolicy(projectId: string, name: string, user: string): Promise<void> {
    this.cache.clear();
    const p = await this.requirePolicy(projectId, name);
    const u = await this.requireUser(user);
    await this.store.run('DELETE FROM policy_attachments WHERE policy_id = ? AND user_id = ?', [p.id, u.id]);
    await this.store.run('INSERT INTO policy_attachments (policy_id, user_id) VALUES (?, ?)', [p.id, u.id]);
  }

  async detachPolicy(projectId: string, name: string, user: string): Promise<void> {
    this.cache.clear();
    const p = await this.requirePolicy(projectId, name);
    const u = await this.requireUser(user);
    const r = await this.store.run('DELETE FROM policy_attachments WHERE policy_id = ? AND user_id = ?', [p.id, u.id]);
    if (r.changes === 0) throw notFound('policy attachment', `${name}/${user}`);
  }

  async policiesFor(userId: string, projectId: string): Promise<PolicyDocument[]> {
    return (await this.cache.get(`pol:${userId}:${projectId}`, async () => {
      const rows = await this.store.all<{ document: string }>(
        'SELECT p.document FROM policies p JOIN policy_attachments a ON a.policy_id = p.id WHERE a.user_id = ? AND p.project_id = ?', [userId, projectId]);
      return rows.map((r) => JSON.parse(r.document) as PolicyDocument);
    }))!;
  }

  // ---- quotas ----

  async quotas(projectId: string): Promise<QuotaEntry[]> {
    const rows = await this.store.all<{ resource: string; hard_limit: number; used: number }>(
      'SELECT resource, hard_limit, used FROM quotas WHERE project_id = ? ORDER BY resource', [projectId]);
    return rows.map((r) => ({ resource: r.resource, limit: Number(r.hard_limit), used: Number(r.used) }));
  }

  async setQuota(projectId: string, resource: string, limit: number): Promise<void> {
    if (!/^[a-z_]{1,32}$/.test(resource)) throw invalid('/resource', `invalid quota resource '${resource}'`);
    if (!Number.isInteger(limit) || limit < -1) throw invalid('/limit', 'limit must be an integer ≥ -1 (-1 = unlimited)');
    const r = await this.store.run('UPDATE quotas SET hard_limit = ? WHERE project_id = ? AND resource = ?', [limit, projectId, resource]);
    if (r.changes === 0) await this.store.run('INSERT INTO quotas (project_id, resource, hard_limit, used) VALUES (?, ?, ?, 0)', [projectId, resource, limit]);
  }

  /**
   * Consumes quota inside the caller's transaction `q`, so the create and
   * the count commit together: concurrent creates can never overshoot.
   * Negative deltas release. Unknown resources are unlimited.
   */
  async consumeQuota(q: Sql, projectId: string, deltas: Record<string, number>): Promise<void> {
    for (const [resource, delta] of Object.entries(deltas)) {
      if (!delta) continue;
      if (delta < 0) {
        await q.run('UPDATE quotas SET used = CASE WHEN used + ? < 0 THEN 0 ELSE used + ? END WHERE project_id = ? AND resource = ?', [delta, delta, projectId, resource]);
        continue;
      }
      const r = await q.run('UPDATE quotas SET used = used + ? WHERE project_id = ? AND resource = ? AND (hard_limit < 0 OR used + ? <= hard_limit)',
        [delta, projectId, resource, delta]);
      if (r.changes === 0) {
        const row = await q.get<{ hard_limit: number; used: number }>('SELECT hard_limit, used FROM quotas WHERE project_id = ? AND resource = ?', [projectId, resource]);
        if (!row) continue;
        throw new YunError('QuotaExceeded', `quota exceeded for ${resource}: limit ${row.hard_limit}, used ${row.used}, requested ${delta}`,
          { field: resource, details: { resource, limit: Number(row.hard_limit), used: Number(row.used), requested: delta } });
      }
    }
  }
}
