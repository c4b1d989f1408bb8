/**
 * Placement: choose a host for a request and claim its capacity.
 *
 * Choosing happens in memory: hosts sit in one array sorted by weigher score
 * (best first), so a placement walks from the top and takes the first host
 * every filter accepts — usually the first one — instead of scoring every
 * host. The choice is reserved in memory at once, so concurrent placements
 * in this process never pick the same room twice.
 *
 * Claiming happens in the store: queued placements are written to the
 * `scheduler_allocations` table in one transaction per batch, re-checking
 * each host's sum of allocations against capacity × overcommit read inside
 * that transaction. A claim that no longer fits (another control-plane
 * replica took the room) refreshes that host from the store and places the
 * request again. The table is the truth; memory is a cache rebuilt by `load`.
 */
import { YunError } from '../core/errors.ts';
import type { Migration, Sql, StateStore } from '../store/types.ts';
import { DEFAULT_FILTERS } from './filters.ts';
import type { HostSpec } from './hosts.ts';
import type { Amounts, FilterContext, HostFilter, HostState, HostWeigher, Placement, PlacementRequest } from './types.ts';
import { spreadWeigher } from './weighers.ts';

export const schedulerMigrations: Migration[] = [{
  service: 'scheduler',
  version: 1,
  up: `CREATE TABLE scheduler_allocations (
      consumer_id TEXT PRIMARY KEY, host_id TEXT NOT NULL, cpus REAL NOT NULL, memory_mb INTEGER NOT NULL,
      disk_gb INTEGER NOT NULL, server_group TEXT, created_at TEXT NOT NULL);
    CREATE INDEX scheduler_allocations_host ON scheduler_allocations(host_id)`,
}];

export interface SchedulerOptions {
  filters?: HostFilter[];
  weigher?: HostWeigher;
  /** Largest number of claims written in one transaction. */
  maxBatch?: number;
}

interface Allocation { hostId: string; amounts: Amounts; group?: string }
interface Pending { req: PlacementRequest; host: HostState; attempts: number; resolve(p: Placement): void; reject(e: unknown): void }

const ZERO = (): Amounts & { instances: number } => ({ cpus: 0, memoryMb: 0, diskGb: 0, instances: 0 });

export function hostStateFrom(id: string, name: string, spec: HostSpec): HostState {
  const oc = spec.overcommit ?? { cpu: 4, ram: 1, disk: 1 };
  return {
    id, name, pool: spec.pool, zone: spec.zone, arch: spec.arch, labels: spec.hostLabels ?? {}, drivers: spec.drivers ?? [],
    capacity: spec.capacity, overcommit: oc,
    limit: { cpus: spec.capacity.cpus * oc.cpu, memoryMb: spec.capacity.memoryMb * oc.ram, diskGb: spec.capacity.diskGb * oc.disk },
    used: ZERO(), score: 0,
  };
}

export class Scheduler implements FilterContext {
  readonly filters: HostFilter[];
  readonly weigher: HostWeigher;
  private readonly hosts = new Map<string, HostState>();
  /** Best first. */
  private order: HostState[] = [];
  private readonly allocations = new Map<string, Allocation>();
  private readonly groups = new Map<string, Map<string, number>>();
  private queue: Pending[] = [];
  private flushing?: Promise<void>;
  private loadedAt = 0;
  private readonly maxBatch: number;

  constructor(private readonly store: StateStore, o: SchedulerOptions = {}) {
    this.filters = o.filters ?? DEFAULT_FILTERS;
    this.weigher = o.weigher ?? spreadWeigher;
    this.maxBatch = o.maxBatch ?? 2000;
  }

  groupHosts(key: string): ReadonlyMap<string, number> | undefined {
    return this.groups.get(key);
  }

  /** (Re)builds the in-memory view from the host resources and the allocations table. */
  async load(): Promise<void> {
    const rows = await this.store.all<{ id: string; name: string; spec: string }>("SELECT id, name, spec FROM resources WHERE kind = 'host'");
    const allocs = await this.store.all<{ consumer_id: string; host_id: string; cpus: number; memory_mb: number; disk_gb: number; server_group: string | null }>(
      'SELECT consumer_id, host_id, cpus, memory_mb, disk_gb, server_group FROM scheduler_allocations');
    this.hosts.clear();
    this.allocations.clear();
    this.groups.clear();
    for (const r of rows) this.hosts.set(r.id, hostStateFrom(r.id, r.name, JSON.parse(r.spec) as HostSpec));
    for (const a of allocs) {
      const amounts = { cpus: Number(a.cpus), memoryMb: Number(a.memory_mb), diskGb: Number(a.disk_gb) };
      this.account(a.consumer_id, { hostId: a.host_id, amounts, ...(a.server_group ? { group: a.server_group } : {}) }, 1);
    }
    // Placements still queued keep their in-memory reservation.
    for (const p of this.queue) {
      const h = this.hosts.get(p.host.id);
      if (h) { p.host = h; this.account(p.req.consumerId, { hostId: h.id, amounts: p.req.amounts, group: p.req.serverGroup?.key }, 1); }
    }
    for (const h of this.hosts.values()) h.score = this.weigher.weigh(h);
    this.order = [...this.hosts.values()].sort(cmp);
    this.loadedAt = Date.now();
  }

  /** Reloads when the view is older than `maxAgeMs` (hosts added or changed through the API). */
  async refresh(maxAgeMs = 2000): Promise<void> {
    if (Date.now() - this.loadedAt > maxAgeMs && !this.flushing) await this.load();
  }

  hostList(): HostState[] {
    return [...this.hosts.values()];
  }

  allocationOf(consumerId: string): { hostId: string; amounts: Amounts } | undefined {
    return this.allocations.get(consumerId);
  }

  /**
   * Chooses a host and claims the room in the store. Idempotent per
   * consumer: a consumer that already holds an allocation gets its host back.
   * Throws `NoValidHost` naming the filter that eliminated the last hosts.
   */
  place(req: PlacementRequest): Promise<Placement> {
    const have = this.allocations.get(req.consumerId);
    if (have) {
      const h = this.hosts.get(have.hostId);
      if (h && !this.queue.some((p) => p.req.consumerId === req.consumerId)) return Promise.resolve({ consumerId: req.consumerId, hostId: h.id, hostName: h.name, pool: h.pool });
    }
    return new Promise((resolve, reject) => {
      try {
        const host = this.choose(req);
        this.queue.push({ req, host, attempts: 0, resolve, reject });
        this.kick();
      } catch (e) {
        reject(e);
      }
    });
  }

  /** Picks and reserves in memory. */
  private choose(req: PlacementRequest): HostState {
    for (const h of this.order) {
      if (this.filters.every((f) => f.passes(h, req, this))) {
        this.account(req.consumerId, { hostId: h.id, amounts: req.amounts, group: req.serverGroup?.key }, 1);
        return h;
      }
    }
    throw this.noValidHost(req);
  }

  /** Runs the filters one after another over every host; names the one that left nothing. */
  private noValidHost(req: PlacementRequest): YunError {
    let left = [...this.hosts.values()];
    if (left.length === 0) return new YunError('NoValidHost', 'no valid host: no hosts are registered', { details: { filter: 'none', hosts: 0 } });
    for (const f of this.filters) {
      const next = left.filter((h) => f.passes(h, req, this));
      if (next.length === 0) {
        return new YunError('NoValidHost', `no valid host: filter '${f.name}' eliminated the last ${left.length} candidate(s): ${f.explain?.(req) ?? ''}`.trim(),
          { details: { filter: f.name, eliminated: left.length, hosts: this.hosts.size } });
      }
      left = next;
    }
    return new YunError('NoValidHost', 'no valid host', { details: { hosts: this.hosts.size } });
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      await new Promise<void>((r) => setImmediate(r));
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.claim(batch).catch((e) => {
          for (const p of batch) { this.account(p.req.consumerId, undefined, -1); p.reject(e); }
        });
      }
    })().finally(() => { this.flushing = undefined; });
  }

  /** Writes one batch of claims in one transaction, re-checking every host against the store. */
  private async claim(batch: Pending[]): Promise<void> {
    const byHost = new Map<string, Pending[]>();
    for (const p of batch) byHost.set(p.host.id, [...(byHost.get(p.host.id) ?? []), p]);
    const retry: Pending[] = [];
    const done: Pending[] = [];
    const now = new Date().toISOString();
    await this.store.tx(async (q) => {
      for (const [hostId, ps] of byHost) {
        const limit = await hostLimit(q, hostId);
        const used = await usedOn(q, hostId);
        for (const p of ps) {
          const a = p.req.amounts;
          const exists = await q.get('SELECT host_id FROM scheduler_allocations WHERE consumer_id = ?', [p.req.consumerId]);
          if (exists) { done.push(p); continue; }
          if (limit && used.cpus + a.cpus <= limit.cpus + 1e-9 && used.memoryMb + a.memoryMb <= limit.memoryMb && used.diskGb + a.diskGb <= limit.diskGb) {
            await q.run('INSERT INTO scheduler_allocations (consumer_id, host_id, cpus, memory_mb, disk_gb, server_group, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
              [p.req.consumerId, hostId, a.cpus, a.memoryMb, a.diskGb, p.req.serverGroup?.key ?? null, now]);
            used.cpus += a.cpus; used.memoryMb += a.memoryMb; used.diskGb += a.diskGb;
            done.push(p);
          } else retry.push(p);
        }
      }
    });
    for (const p of done) p.resolve({ consumerId: p.req.consumerId, hostId: p.host.id, hostName: p.host.name, pool: p.host.pool });
    if (retry.length) {
      // Another replica took the room: rebuild the view from the store and place again.
      for (const p of retry) this.account(p.req.consumerId, undefined, -1);
      await this.load();
      for (const p of retry) {
        try {
          if (++p.attempts > 3) throw new YunError('NoValidHost', 'no valid host: capacity kept changing under concurrent claims');
          p.host = this.choose(p.req);
          this.queue.push(p);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  /** Frees a consumer's allocation (idempotent). */
  async release(consumerId: string, q: Sql = this.store): Promise<void> {
    await q.run('DELETE FROM scheduler_allocations WHERE consumer_id = ?', [consumerId]);
    this.account(consumerId, undefined, -1);
  }

  /**
   * Changes a consumer's allocation on its current host, inside the caller's
   * transaction `q`. Throws `NoValidHost` with the reason when the host has
   * no room. (Memory is updated by `commitResize` after the transaction commits.)
   */
  async checkResize(q: Sql, consumerId: string, amounts: Amounts): Promise<{ hostId: string } | undefined> {
    const row = await q.get<{ host_id: string; cpus: number; memory_mb: number; disk_gb: number }>(
      'SELECT host_id, cpus, memory_mb, disk_gb FROM scheduler_allocations WHERE consumer_id = ?', [consumerId]);
    if (!row) return undefined;
    const limit = await hostLimit(q, row.host_id);
    const used = await usedOn(q, row.host_id);
    const next = { cpus: used.cpus - Number(row.cpus) + amounts.cpus, memoryMb: used.memoryMb - Number(row.memory_mb) + amounts.memoryMb, diskGb: used.diskGb - Number(row.disk_gb) + amounts.diskGb };
    if (!limit || next.cpus > limit.cpus + 1e-9 || next.memoryMb > limit.memoryMb || next.diskGb > limit.diskGb) {
      const name = this.hosts.get(row.host_id)?.name ?? row.host_id;
      throw new YunError('NoValidHost', `host '${name}' has no room for the new size: it would hold ${next.cpus}/${limit?.cpus ?? 0} vCPU, ${next.memoryMb}/${limit?.memoryMb ?? 0} MiB, ${next.diskGb}/${limit?.diskGb ?? 0} GB after overcommit`,
        { details: { filter: 'capacity', host: name } });
    }
    await q.run('UPDATE scheduler_allocations SET cpus = ?, memory_mb = ?, disk_gb = ? WHERE consumer_id = ?', [amounts.cpus, amounts.memoryMb, amounts.diskGb, consumerId]);
    return { hostId: row.host_id };
  }

  commitResize(consumerId: string, amounts: Amounts): void {
    const a = this.allocations.get(consumerId);
    if (!a) return;
    this.account(consumerId, undefined, -1);
    this.account(consumerId, { ...a, amounts }, 1);
  }

  /** Adds (sign 1, with `a`) or removes (sign -1) a consumer's allocation in memory and re-sorts its host. */
  private account(consumerId: string, a: Allocation | undefined, sign: 1 | -1): void {
    if (sign === -1) {
      a = this.allocations.get(consumerId);
      if (!a) return;
      this.allocations.delete(consumerId);
    } else {
      if (!a || this.allocations.has(consumerId)) return;
      this.allocations.set(consumerId, a);
    }
    if (a.group) {
      const g = this.groups.get(a.group) ?? new Map<string, number>();
      const n = (g.get(a.hostId) ?? 0) + sign;
      if (n > 0) g.set(a.hostId, n); else g.delete(a.hostId);
      this.groups.set(a.group, g);
    }
    const h = this.hosts.get(a.hostId);
    if (!h) return;
    const at = this.indexOf(h);
    h.used.cpus += sign * a.amounts.cpus;
    h.used.memoryMb += sign * a.amounts.memoryMb;
    h.used.diskGb += sign * a.amounts.diskGb;
    h.used.instances += sign;
    h.score = this.weigher.weigh(h);
    if (at >= 0) {
      this.order.splice(at, 1);
      this.order.splice(this.insertAt(h), 0, h);
    }
  }

  private insertAt(h: HostState): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(this.order[mid]!, h) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  private indexOf(h: HostState): number {
    const i = this.insertAt(h);
    return this.order[i] === h ? i : this.order.indexOf(h);
  }
}

/** Best score first; ties by id so the order is total. */
function cmp(a: HostState, b: HostState): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

async function hostLimit(q: Sql, hostId: string): Promise<Amounts | undefined> {
  const row = await q.get<{ spec: string }>("SELECT spec FROM resources WHERE id = ? AND kind = 'host'", [hostId]);
  if (!row) return undefined;
  return hostStateFrom(hostId, '', JSON.parse(row.spec) as HostSpec).limit;
}

async function usedOn(q: Sql, hostId: string): Promise<Amounts> {
  const r = await q.get<{ c: number | null; m: number | null; d: number | null }>(
    'SELECT SUM(cpus) AS c, SUM(memory_mb) AS m, SUM(disk_gb) AS d FROM scheduler_allocations WHERE host_id = ?', [hostId]);
  return { cpus: Number(r?.c ?? 0), memoryMb: Number(r?.m ?? 0), diskGb: Number(r?.d ?? 0) };
}
