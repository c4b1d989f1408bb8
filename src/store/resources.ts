import { YunError, notFound } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Resource, ResourceStatus } from '../core/resource.ts';
import { type LabelRequirement, matchesSelector } from './selector.ts';
import type { Migration, Sql, StateStore } from './types.ts';
import { isUniqueViolation } from './index.ts';

/**
 * The generic resource table every declarative kind lives in, and the event
 * log that the watch stream, controllers and agents follow. Every write
 * appends an event in the same transaction, so the log never misses or
 * invents a change.
 */
export const coreMigrations: Migration[] = [
  {
    service: 'core',
    version: 1,
    up: {
      sqlite: `
        CREATE TABLE resources (
          id TEXT PRIMARY KEY, kind TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL,
          labels TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL,
          generation INTEGER NOT NULL, resource_version INTEGER NOT NULL,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
          deletion_timestamp TEXT, owner_id TEXT,
          UNIQUE (kind, project, name));
        CREATE INDEX resources_kind ON resources(kind, name);
        CREATE TABLE events (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, project TEXT NOT NULL,
          resource_id TEXT NOT NULL, type TEXT NOT NULL, object TEXT NOT NULL, at TEXT NOT NULL);
        CREATE TABLE idempotency (
          principal TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
          status INTEGER NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL,
          PRIMARY KEY (principal, key))`,
      postgres: `
        CREATE TABLE resources (
          id TEXT PRIMARY KEY, kind TEXT NOT NULL, project TEXT NOT NULL, name TEXT COLLATE "C" NOT NULL,
          labels TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL,
          generation BIGINT NOT NULL, resource_version BIGINT NOT NULL,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
          deletion_timestamp TEXT, owner_id TEXT,
          UNIQUE (kind, project, name));
        CREATE INDEX resources_kind ON resources(kind, name);
        CREATE TABLE events (
          seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, project TEXT NOT NULL,
          resource_id TEXT NOT NULL, type TEXT NOT NULL, object TEXT NOT NULL, at TEXT NOT NULL);
        CREATE TABLE idempotency (
          principal TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
          status INTEGER NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL,
          PRIMARY KEY (principal, key))`,
    },
  },
];

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ResourceEvent {
  seq: number;
  type: EventType;
  kind: string;
  project: string;
  object: Resource;
  at: string;
}

interface Row {
  id: string; kind: string; project: string; name: string; labels: string; spec: string; status: string;
  generation: number; resource_version: number; created_at: string; updated_at: string;
  deletion_timestamp: string | null; owner_id: string | null;
}

const fromRow = (r: Row): Resource => ({
  id: r.id, kind: r.kind, project: r.project, name: r.name,
  labels: JSON.parse(r.labels), spec: JSON.parse(r.spec), status: JSON.parse(r.status),
  generation: Number(r.generation), resourceVersion: Number(r.resource_version),
  createdAt: r.created_at, updatedAt: r.updated_at,
  ...(r.deletion_timestamp ? { deletionTimestamp: r.deletion_timestamp } : {}),
  ...(r.owner_id ? { ownerId: r.owner_id } : {}),
});

export interface NewResource<S, St> {
  kind: string;
  project: string;
  name: string;
  labels?: Record<string, string>;
  spec: S;
  status?: St;
  /** Id prefix, e.g. `i` for instances. */
  idPrefix: string;
  /** Owning resource id: deleting the owner deletes this through the owner's controller. */
  ownerId?: string;
}

export interface ListOptions {
  selector?: LabelRequirement[];
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface Page<T> { items: T[]; nextCursor?: string }

const encodeCursor = (project: string, name: string) => Buffer.from(JSON.stringify([project, name])).toString('base64url');
function decodeCursor(c: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString());
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string')) return v as [string, string];
  } catch { /* fall through to the validation error */ }
  throw new YunError('ValidationFailed', 'invalid cursor', { field: 'cursor' });
}

/** Typed access to the resource table through one `Sql` (the store, or an open transaction). */
export class Resources {
  constructor(private readonly q: Sql) {}

  async create<S, St extends ResourceStatus>(n: NewResource<S, St>): Promise<Resource<S, St>> {
    const now = new Date().toISOString();
    const r: Resource<S, St> = {
      id: newId(n.idPrefix), kind: n.kind, project: n.project, name: n.name, labels: n.labels ?? {},
      spec: n.spec, status: (n.status ?? {}) as St, generation: 1, resourceVersion: 1, createdAt: now, updatedAt: now,
      ...(n.ownerId ? { ownerId: n.ownerId } : {}),
    };
    try {
      await this.q.run(
        `INSERT INTO resources (id, kind, project, name, labels, spec, status, generation, resource_version, created_at, updated_at, owner_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?)`,
        [r.id, r.kind, r.project, r.name, JSON.stringify(r.labels), JSON.stringify(r.spec), JSON.stringify(r.status), now, now, n.ownerId ?? null],
      );
    } catch (e) {
      if (isUniqueViolation(e)) throw new YunError('AlreadyExists', `${n.kind} '${n.name}' already exists`, { field: '/name' });
      throw e;
    }
    await this.event('ADDED', r as Resource);
    return r;
  }

  /** By name or id within a project; another project's resource is simply not found. */
  async get<S = Record<string, unknown>, St extends ResourceStatus = ResourceStatus>(kind: string, project: string, nameOrId: string): Promise<Resource<S, St> | undefined> {
    const row = await this.q.get<Row>(
      'SELECT * FROM resources WHERE kind = ? AND project = ? AND (name = ? OR id = ?)', [kind, project, nameOrId, nameOrId]);
    return row ? (fromRow(row) as Resource<S, St>) : undefined;
  }

  async require<S = Record<string, unknown>, St extends ResourceStatus = ResourceStatus>(kind: string, project: string, nameOrId: string): Promise<Resource<S, St>> {
    const r = await this.get<S, St>(kind, project, nameOrId);
    if (!r) throw notFound(kind, nameOrId);
    return r;
  }

  async getById<S = Record<string, unknown>, St extends ResourceStatus = ResourceStatus>(id: string): Promise<Resource<S, St> | undefined> {
    const row = await this.q.get<Row>('SELECT * FROM resources WHERE id = ?', [id]);
    return row ? (fromRow(row) as Resource<S, St>) : undefined;
  }

  /** Pages ordered by (project, name). `project` undefined lists every project (admin and controllers). */
  async list<S = Record<string, unknown>, St extends ResourceStatus = ResourceStatus>(kind: string, project: string | undefined, opts: ListOptions = {}): Promise<Page<Resource<S, St>>> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
    let [cp, cn] = opts.cursor ? decodeCursor(opts.cursor) : ['', ''];
    const items: Resource<S, St>[] = [];
    const batch = opts.selector?.length ? Math.max(limit * 2, 200) : limit + 1;
    for (;;) {
      const rows = project === undefined
        ? await this.q.all<Row>(
          'SELECT * FROM resources WHERE kind = ? AND (project > ? OR (project = ? AND name > ?)) ORDER BY project, name LIMIT ?',
          [kind, cp, cp, cn, batch])
        : await this.q.all<Row>(
          'SELECT * FROM resources WHERE kind = ? AND project = ? AND name > ? ORDER BY name LIMIT ?', [kind, project, cn, batch]);
      for (const row of rows) {
        const r = fromRow(row) as Resource<S, St>;
        if (!opts.selector || matchesSelector(r.labels, opts.selector)) items.push(r);
        if (items.length > limit) break;
      }
      if (items.length > limit || rows.length < batch) break;
      const last = rows[rows.length - 1]!;
      cp = last.project;
      cn = last.name;
    }
    if (items.length > limit) {
      items.length = limit;
      const last = items[limit - 1]!;
      return { items, nextCursor: encodeCursor(last.project, last.name) };
    }
    return { items };
  }

  /** Every resource of a kind (controllers' resync); not paginated. */
  async all<S = Record<string, unknown>, St extends ResourceStatus = ResourceStatus>(kind: string, project?: string): Promise<Resource<S, St>[]> {
    const rows = project === undefined
      ? await this.q.all<Row>('SELECT * FROM resources WHERE kind = ? ORDER BY project, name', [kind])
      : await this.q.all<Row>('SELECT * FROM resources WHERE kind = ? AND project = ? ORDER BY name', [kind, project]);
    return rows.map((r) => fromRow(r) as Resource<S, St>);
  }

  /**
   * Replaces spec (and labels) and bumps generation. With `expectedVersion`
   * (from If-Match or the body), a concurrent change answers StaleGeneration.
   */
  async updateSpec<S, St extends ResourceStatus>(r: Resource<S, St>, patch: { spec?: S; labels?: Record<string, string> }, expectedVersion?: number): Promise<Resource<S, St>> {
    const now = new Date().toISOString();
    const spec = patch.spec ?? r.spec;
    const labels = patch.labels ?? r.labels;
    const res = await this.q.run(
      `UPDATE resources SET spec = ?, labels = ?, generation = generation + 1, resource_version = resource_version + 1, updated_at = ?
       WHERE id = ? AND resource_version = ?`,
      [JSON.stringify(spec), JSON.stringify(labels), now, r.id, expectedVersion ?? r.resourceVersion]);
    if (res.changes !== 1) throw new YunError('StaleGeneration', `${r.kind} '${r.name}' was modified concurrently`, { field: '/resourceVersion' });
    const next = { ...r, spec, labels, generation: r.generation + 1, resourceVersion: (expectedVersion ?? r.resourceVersion) + 1, updatedAt: now };
    await this.event('MODIFIED', next as Resource);
    return next;
  }

  /**
   * The status path: only controllers and agents call it. `mutate` receives
   * the current status and returns the next; retried on concurrent writes.
   */
  async updateStatus<St extends ResourceStatus>(kind: string, id: string, mutate: (cur: St, r: Resource<Record<string, unknown>, St>) => St): Promise<Resource<Record<string, unknown>, St> | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.getById<Record<string, unknown>, St>(id);
      if (!r || r.kind !== kind) return undefined;
      const status = mutate(r.status, r);
      if (JSON.stringify(status) === JSON.stringify(r.status)) return r;
      const now = new Date().toISOString();
      const res = await this.q.run(
        'UPDATE resources SET status = ?, resource_version = resource_version + 1, updated_at = ? WHERE id = ? AND resource_version = ?',
        [JSON.stringify(status), now, id, r.resourceVersion]);
      if (res.changes === 1) {
        const next = { ...r, status, resourceVersion: r.resourceVersion + 1, updatedAt: now };
        await this.event('MODIFIED', next as Resource);
        return next;
      }
    }
    throw new YunError('Conflict', `${kind} ${id}: too many concurrent status writes`);
  }

  /**
   * Starts a finalized deletion: sets deletionTimestamp once; the owning
   * controller tears down what the resource holds, then calls `delete`.
   */
  async markDeleting<S, St extends ResourceStatus>(r: Resource<S, St>): Promise<Resource<S, St>> {
    if (r.deletionTimestamp) return r;
    const now = new Date().toISOString();
    await this.q.run('UPDATE resources SET deletion_timestamp = ?, resource_version = resource_version + 1, updated_at = ? WHERE id = ?', [now, now, r.id]);
    const next = { ...r, deletionTimestamp: now, resourceVersion: r.resourceVersion + 1, updatedAt: now };
    await this.event('MODIFIED', next as Resource);
    return next;
  }

  /** Children of an owner (owner references). */
  async ownedBy(ownerId: string): Promise<Resource[]> {
    return (await this.q.all<Row>('SELECT * FROM resources WHERE owner_id = ? ORDER BY kind, name', [ownerId])).map(fromRow);
  }

  /** Removes the row; deleting a missing resource is not an error here (callers decide). */
  async delete(r: Resource<unknown, ResourceStatus>): Promise<boolean> {
    const res = await this.q.run('DELETE FROM resources WHERE id = ?', [r.id]);
    if (res.changes === 1) await this.event('DELETED', r as Resource);
    return res.changes === 1;
  }

  async count(kind: string, project: string): Promise<number> {
    const row = await this.q.get<{ n: number }>('SELECT COUNT(*) AS n FROM resources WHERE kind = ? AND project = ?', [kind, project]);
    return Number(row?.n ?? 0);
  }

  private async event(type: EventType, r: Resource): Promise<void> {
    await this.q.run('INSERT INTO events (kind, project, resource_id, type, object, at) VALUES (?, ?, ?, ?, ?, ?)',
      [r.kind, r.project, r.id, type, JSON.stringify(r), new Date().toISOString()]);
  }
}

export interface EventFilter { kinds?: string[]; projects?: string[]; since?: number }

/**
 * Fans the event log out to watchers. Readers catch up from the table, so a
 * watcher resumes from any event id and several control-plane replicas see
 * each other's writes (a short poll is the backstop; `poke` after a local
 * commit makes delivery immediate).
 */
export class EventBus {
  private readonly listeners = new Set<() => void>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: StateStore, private readonly pollMs = 1000) {}

  start(): void {
    this.timer ??= setInterval(() => this.poke(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  poke(): void {
    for (const l of this.listeners) l();
  }

  async lastSeq(): Promise<number> {
    const row = await this.store.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM events');
    return Number(row?.s ?? 0);
  }

  /** Events after `after` matching `filter`, and the last sequence number scanned. */
  async read(after: number, filter: EventFilter, limit = 500): Promise<{ events: ResourceEvent[]; last: number; more: boolean }> {
    const rows = await this.store.all<{ seq: number; kind: string; project: string; type: EventType; object: string; at: string }>(
      'SELECT seq, kind, project, type, object, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?', [after, limit]);
    const events = rows
      .filter((r) => (!filter.kinds?.length || filter.kinds.includes(r.kind)) && (!filter.projects?.length || filter.projects.includes(r.project)))
      .map((r) => ({ seq: Number(r.seq), kind: r.kind, project: r.project, type: r.type, object: JSON.parse(r.object), at: r.at }));
    return { events, last: rows.length ? Number(rows[rows.length - 1]!.seq) : after, more: rows.length === limit };
  }

  /**
   * Calls `onEvent` for every event after `since` matching `filter`, in
   * order, until the returned function is called.
   */
  subscribe(filter: EventFilter, since: number, onEvent: (e: ResourceEvent) => void): () => void {
    let cursor = since;
    let running = false;
    let again = false;
    let closed = false;
    const pump = async () => {
      if (running) { again = true; return; }
      running = true;
      try {
        do {
          again = false;
          for (;;) {
            const { events, last, more } = await this.read(cursor, filter);
            cursor = last;
            for (const e of events) if (!closed) onEvent(e);
            if (closed || !more) break;
          }
        } while (again && !closed);
      } finally {
        running = false;
      }
    };
    const l = () => { void pump().catch(() => undefined); };
    this.listeners.add(l);
    l();
    return () => { closed = true; this.listeners.delete(l); };
  }
}
