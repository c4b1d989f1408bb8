/**
 * Typed client for monitoring and elasticity: metrics queries and pushes,
 * the Prometheus text, alarms, autoscaling policies (with upsert helpers
 * for `yun autoscale set/schedule`), instance groups, decisions and
 * rightsizing. `new AutoscaleApi(client)` over any logged-in `YunClient`.
 */
import type { Recommendation } from '../autoscale/recommend.ts';
import type { GroupSpec, GroupStatus } from '../autoscale/groups.ts';
import type { PolicyMetric, PolicySpec, PolicyStatus, Schedule } from '../autoscale/policy.ts';
import type { AlarmSpec, AlarmStatus } from '../monitor/alarms.ts';
import { type ResourceClient, type YunClient, YunApiError } from './client.ts';

export type { AlarmSpec, AlarmStatus, GroupSpec, GroupStatus, PolicyMetric, PolicySpec, PolicyStatus, Recommendation, Schedule };

export interface QueryResult {
  query: string; from: string; to: string; stepSeconds: number;
  result: { metric: string; labels: Record<string, string>; values: [number, number][] }[];
}

export interface Decision {
  policy: string; kind: string; target: string; at: string; current: number; desired: number; recommended: number; min: number; max: number; reason: string;
  metrics: { type: string; value?: number; target: number; proposes?: number }[];
}

/** Policy name for a target: `shop` for `app/shop` (or bare `shop`), `group-workers` for `group/workers`. */
export const policyName = (target: string) => (target.startsWith('group/') ? `group-${target.slice(6)}` : target.replace(/^app\//, ''));
export const normTarget = (target: string) => (target.includes('/') ? target : `app/${target}`);

export class AutoscaleApi {
  readonly alarms: ResourceClient<AlarmSpec, AlarmStatus>;
  readonly policies: ResourceClient<PolicySpec, PolicyStatus>;
  readonly groups: ResourceClient<GroupSpec, GroupStatus>;

  constructor(private readonly c: YunClient) {
    this.alarms = c.resource<AlarmSpec, AlarmStatus>('alarms');
    this.policies = c.resource<PolicySpec, PolicyStatus>('autoscalers');
    this.groups = c.resource<GroupSpec, GroupStatus>('instance-groups');
  }

  query(q: string, o: { since?: string; until?: string; step?: string; allProjects?: boolean } = {}): Promise<QueryResult> {
    return this.c.request('GET', '/v1/metrics/query', { query: { q, ...o } });
  }

  names(): Promise<{ items: string[] }> { return this.c.request('GET', '/v1/metrics/names'); }

  push(samples: { metric: string; labels?: Record<string, string>; value: number; type?: 'gauge' | 'counter' }[]): Promise<{ accepted: number }> {
    return this.c.request('POST', '/v1/metrics/push', { body: { samples } });
  }

  async prometheus(o: { allProjects?: boolean } = {}): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.c.token) headers.authorization = `Bearer ${this.c.token}`;
    if (this.c.project) headers['x-yun-project'] = this.c.project;
    const res = await fetch(`${this.c.endpoint}/v1/metrics/prometheus${o.allProjects ? '?allProjects=true' : ''}`, { headers });
    if (!res.ok) throw new Error(`prometheus: HTTP ${res.status}`);
    return res.text();
  }

  decisions(): Promise<{ items: Decision[] }> { return this.c.request('GET', '/v1/autoscale/decisions'); }

  recommend(target: string, window?: string): Promise<Recommendation> {
    return this.c.request('GET', '/v1/recommendations', { query: { target: normTarget(target), ...(window ? { window } : {}) } });
  }

  /** Creates or replaces the policy of a target; fields left out keep their current value. */
  async setPolicy(target: string, patch: Partial<Omit<PolicySpec, 'target'>>): Promise<ReturnType<ResourceClient<PolicySpec, PolicyStatus>['get']>> {
    const t = normTarget(target);
    const name = policyName(t);
    const cur = await this.policies.get(name).catch((e) => { if (e instanceof YunApiError && e.status === 404) return undefined; throw e; });
    const spec: PolicySpec = { target: t, minReplicas: 1, maxReplicas: 10, metrics: [], ...(cur?.spec ?? {}), ...patch };
    if (patch.minReplicas !== undefined && patch.maxReplicas === undefined && spec.maxReplicas < patch.minReplicas) spec.maxReplicas = patch.minReplicas;
    return cur ? this.policies.update(name, { spec }, cur.resourceVersion) : this.policies.create(name, spec);
  }

  /** Adds a cron schedule to a target's policy (creating the policy if needed). */
  async addSchedule(target: string, s: Schedule, timeZone?: string) {
    const t = normTarget(target);
    const cur = await this.policies.get(policyName(t)).catch(() => undefined);
    const schedules = [...(cur?.spec.schedules ?? []).filter((x) => x.cron !== s.cron), s];
    const patch: Partial<PolicySpec> = { schedules, ...(timeZone ? { timeZone } : {}) };
    if (!cur && s.minReplicas !== undefined) patch.maxReplicas = Math.max(10, s.minReplicas);
    return this.setPolicy(t, patch);
  }
}
