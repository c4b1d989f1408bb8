/**
 * Making and removing replicas: compute `instance` resources owned by the
 * app. Creation goes through compute's own exported sizing, image
 * resolution and quota accounting (the same steps its API's `prepare` and
 * `afterCreate` take), in one transaction, so app replicas count against
 * the project's instance/vCPU/RAM quota like any instance.
 */
import { randomBytes } from 'node:crypto';
import type { ResourceCallContext } from '../api/resources.ts';
import { YunError } from '../core/errors.ts';
import type { ImageService } from '../compute/images-service.ts';
import { type Instance, quotaOf, sizeOf } from '../compute/instances.ts';
import type { InstanceSpec, InstanceStatus } from '../compute/types.ts';
import type { IdentityService } from '../identity/service.ts';
import { Resources } from '../store/resources.ts';
import type { Sql, StateStore } from '../store/types.ts';
import type { App, Revision } from './revisions.ts';
import type { AppTemplate } from './types.ts';

export const CONFIG_KIND = 'app-config';
export const SECRET_KIND = 'app-secret';

/** Default size of a replica without flavor or cpus/memoryMb. */
export const DEFAULT_SIZE = { cpus: 0.25, memoryMb: 128 };

/** Environment of a replica: the template's env, `envFrom` objects, secret refs, and PORT. */
export async function replicaEnv(q: Sql, project: string, t: AppTemplate): Promise<Record<string, string>> {
  const res = new Resources(q);
  const data = async (kind: string, name: string): Promise<Record<string, string>> => {
    const r = await res.get<{ data: Record<string, string> }>(kind, project, name);
    if (!r) throw new YunError('NotFound', `${kind === SECRET_KIND ? 'secret' : 'config map'} '${name}' not found`, { field: '/spec/secretRefs' });
    return r.spec.data;
  };
  const env: Record<string, string> = { PORT: String(t.port) };
  for (const f of t.envFrom ?? []) {
    if (f.configMap) Object.assign(env, await data(CONFIG_KIND, f.configMap));
    if (f.secret) Object.assign(env, await data(SECRET_KIND, f.secret));
  }
  Object.assign(env, t.env ?? {});
  for (const s of t.secretRefs ?? []) {
    const d = await data(s.configMap ? CONFIG_KIND : SECRET_KIND, s.secret);
    if (d[s.key] === undefined) throw new YunError('NotFound', `key '${s.key}' not in '${s.secret}'`, { field: '/spec/secretRefs' });
    env[s.env] = d[s.key]!;
  }
  for (const k of Object.keys(env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) delete env[k];
  return env;
}

export interface ReplicaDeps {
  store: StateStore;
  identity: IdentityService;
  images: () => ImageService | undefined;
  /** Replicas get an app security group (the network service is running). */
  networkGroups?: boolean;
}

/** argv of a replica: the template's command and args (a source runtime fills them in the revision). */
export function replicaCommand(t: AppTemplate): string[] | undefined {
  const argv = [...(t.command ?? []), ...(t.args ?? [])];
  return argv.length ? argv : undefined;
}

export async function createReplica(d: ReplicaDeps, app: App, rev: Revision, ports: number[] = [rev.spec.template.port]): Promise<Instance> {
  const images = d.images();
  if (!images) throw new YunError('Unavailable', 'the compute service is not running in this control plane');
  const t = rev.spec.template;
  const image = rev.status.image ?? t.image;
  if (!image) throw new YunError('InvalidState', `revision ${rev.spec.revision} of '${app.name}' has no image yet`);
  return d.store.tx(async (q) => {
    const project = await d.identity.requireProject(app.project, q);
    const c = { q, scope: { project, role: 'admin' } } as unknown as ResourceCallContext;
    const want = t.flavor ? { flavor: t.flavor } : { cpus: t.cpus ?? DEFAULT_SIZE.cpus, memoryMb: t.memoryMb ?? DEFAULT_SIZE.memoryMb };
    const size = await sizeOf(q, c, want);
    const img = await images.resolve(q, project.id, image);
    if (img.status.state !== 'available') throw new YunError('InvalidState', `image '${image}' is ${img.status.state ?? 'pending'}`);
    const suffix = randomBytes(3).toString('hex');
    const securityGroups = d.networkGroups ? await ensureAppGroup(q, d.identity, project.id, app.name, ports) : undefined;
    const spec: InstanceSpec = {
      image, ...want, size, imageId: img.id, restartPolicy: 'always', ...(securityGroups ? { securityGroups } : {}),
      env: await replicaEnv(q, project.id, t),
      ...(replicaCommand(t) ?? rev.status.command ? { command: replicaCommand(t) ?? (rev.status.command as string[]) } : {}),
      ...(rev.status.workingDir ? { workingDir: String(rev.status.workingDir) } : {}),
    };
    const inst = await new Resources(q).create<InstanceSpec, InstanceStatus>({
      kind: 'instance', project: project.id, name: `${app.name.slice(0, 40)}-r${rev.spec.revision}-${suffix}`, idPrefix: 'i',
      labels: { app: app.name, revision: String(rev.spec.revision), 'yun-app-id': app.id }, spec, status: { state: 'pending' }, ownerId: app.id,
    });
    await d.identity.consumeQuota(q, project.id, quotaOf(size));
    return inst;
  });
}

/** Starts the finalized deletion of a replica (compute's controller stops it and releases its quota). */
export async function deleteReplica(store: StateStore, inst: Instance): Promise<void> {
  await store.tx(async (q) => {
    const res = new Resources(q);
    const cur = await res.getById<InstanceSpec, InstanceStatus>(inst.id);
    if (!cur || cur.deletionTimestamp) return;
    await res.updateStatus<InstanceStatus>('instance', cur.id, (s) => ({ ...s, state: 'deleting' }));
    await res.markDeleting(cur);
  });
}

/** Name of the security group that lets the router (on the host) reach an app's replicas. */
export const appGroupName = (app: string) => `app-${app}`.slice(0, 63).replace(/-+$/, '');

/**
 * Ensures the app's security group: ingress on the app ports (current and
 * older revisions' during a rollout) so the router on the host reaches
 * replicas; replicas also join the project's `default` group. Created
 * through the network service's exported rule normalisation, counted in the
 * `security_groups` quota like any group.
 */
export async function ensureAppGroup(q: Sql, identity: IdentityService, project: string, app: string, ports: number[]): Promise<string[]> {
  const { ensureDefaultGroup, normalizeRules, DEFAULT_GROUP } = await import('../network/security-groups.ts');
  const name = appGroupName(app);
  const rules = normalizeRules([...new Set(ports)].sort((a, b) => a - b).map((p) => `ingress tcp ${p} 0.0.0.0/0`));
  const spec = { description: `router access to app ${app}`, rules };
  await ensureDefaultGroup(q, identity, project);
  const res = new Resources(q);
  const cur = await res.get<typeof spec>('security-group', project, name);
  if (!cur) {
    await res.create({ kind: 'security-group', project, name, idPrefix: 'sg', labels: { app }, spec });
    await identity.consumeQuota(q, project, { security_groups: 1 });
  } else if (JSON.stringify(cur.spec.rules) !== JSON.stringify(rules)) {
    await res.updateSpec(cur, { spec: { ...cur.spec, rules } });
  }
  return [DEFAULT_GROUP, name];
}

/** Removes the app's security group (after its replicas are gone). */
export async function deleteAppGroup(q: Sql, identity: IdentityService, project: string, app: string): Promise<void> {
  const res = new Resources(q);
  const cur = await res.get('security-group', project, appGroupName(app));
  if (cur && cur.labels.app === app) {
    await res.delete(cur);
    await identity.consumeQuota(q, project, { security_groups: -1 });
  }
}
