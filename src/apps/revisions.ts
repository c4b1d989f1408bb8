/**
 * Immutable revisions: every distinct template of an app is one
 * `app-revision` owned by the app, numbered 1, 2, 3… A change back to an
 * earlier template (rollback) reuses that revision instead of copying it.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '../core/resource.ts';
import { Resources } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import type { AppSpec, AppStatus, AppTemplate, RevisionSpec, RevisionStatus } from './types.ts';

export type App = Resource<AppSpec, AppStatus>;
export type Revision = Resource<RevisionSpec, RevisionStatus>;

export const REVISION_KIND = 'app-revision';

const TEMPLATE_KEYS: (keyof AppTemplate)[] = ['image', 'source', 'command', 'args', 'env', 'secretRefs', 'envFrom', 'port', 'flavor', 'cpus', 'memoryMb', 'healthCheck'];

export function templateOf(spec: AppSpec): AppTemplate {
  const t: Record<string, unknown> = {};
  for (const k of TEMPLATE_KEYS) if (spec[k] !== undefined) t[k] = spec[k];
  return t as unknown as AppTemplate;
}

/** Canonical JSON (sorted keys) so equal templates hash equally. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export const templateHash = (t: AppTemplate) => createHash('sha256').update(canonical(t)).digest('hex').slice(0, 16);

export const revisionName = (app: string, n: number) => `${app}-r${n}`;

export async function revisionsOf(q: Sql, appId: string): Promise<Revision[]> {
  return ((await new Resources(q).ownedBy(appId)).filter((r) => r.kind === REVISION_KIND) as unknown as Revision[])
    .sort((a, b) => a.spec.revision - b.spec.revision);
}

/** The revision of the app's current template (undefined only before the first `ensureRevision`). */
export async function currentRevision(q: Sql, app: App): Promise<Revision | undefined> {
  const h = templateHash(templateOf(app.spec));
  return (await revisionsOf(q, app.id)).find((r) => r.spec.templateHash === h);
}

/**
 * Makes sure the app's template has a revision (inside the caller's
 * transaction) and prunes the oldest beyond the history limit (never the
 * current one). Returns the revision and whether it is new.
 */
export async function ensureRevision(q: Sql, app: Pick<App, 'id' | 'name' | 'project' | 'spec'>): Promise<{ revision: Revision; created: boolean }> {
  const template = templateOf(app.spec);
  const hash = templateHash(template);
  const all = await revisionsOf(q, app.id);
  const found = all.find((r) => r.spec.templateHash === hash);
  if (found) return { revision: found, created: false };
  const n = (all[all.length - 1]?.spec.revision ?? 0) + 1;
  const res = new Resources(q);
  const revision = await res.create<RevisionSpec, RevisionStatus>({
    kind: REVISION_KIND, project: app.project, name: revisionName(app.name, n), idPrefix: 'apprev', ownerId: app.id,
    labels: { app: app.name, revision: String(n) },
    spec: { revision: n, template, templateHash: hash, ...(app.spec.changeCause ? { changeCause: app.spec.changeCause } : {}) },
    status: app.spec.source ? { state: 'building' } : { state: 'ready', image: app.spec.image },
  });
  const limit = app.spec.revisionHistoryLimit ?? 10;
  const old = all.slice(0, Math.max(0, all.length + 1 - limit));
  for (const r of old) await res.delete(r);
  return { revision, created: true };
}

/** Resolves `25%`-style counts against `total` (surge rounds up, unavailable down, as Kubernetes does). */
export function resolveCount(v: number | string | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const pct = Number(x.slice(0, -1)) / 100;
  return roundUp ? Math.ceil(total * pct) : Math.floor(total * pct);
}

export function rolloutLimits(spec: AppSpec): { maxSurge: number; maxUnavailable: number } {
  const maxSurge = resolveCount(spec.strategy?.maxSurge, spec.replicas, true, '25%');
  let maxUnavailable = resolveCount(spec.strategy?.maxUnavailable, spec.replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}
