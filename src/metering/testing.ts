/**
 * Test helpers for metering: a store with the core and metering tables, a
 * controllable clock, and resource history written through the real
 * `Resources` path with chosen event times.
 */
import type { Resource } from '../core/resource.ts';
import { type OpenedStore, openStore } from '../store/index.ts';
import { Resources, coreMigrations } from '../store/resources.ts';
import type { Sql } from '../store/types.ts';
import { meteringMigrations } from './migrations.ts';

export async function meteringStore(url = 'sqlite::memory:'): Promise<OpenedStore> {
  const s = await openStore(url);
  await s.migrate([...coreMigrations, ...meteringMigrations]);
  return s;
}

export class TestClock {
  constructor(public t: number) {}
  now = (): number => this.t;
  set(iso: string): void { this.t = Date.parse(iso); }
}

/** Stamps the latest event of `id` with time `iso` (the history happened then). */
async function stamp(q: Sql, id: string, iso: string): Promise<void> {
  const row = await q.get<{ s: number }>('SELECT MAX(seq) AS s FROM events WHERE resource_id = ?', [id]);
  await q.run('UPDATE events SET at = ? WHERE seq = ?', [iso, row!.s]);
}

/** Writes an instance's life through the resource store, at the given times. */
export class History {
  constructor(private readonly q: Sql) {}

  async instance(project: string, name: string, at: string, size: { vcpus: number; ramMb: number; diskGb: number }, labels: Record<string, string> = {}): Promise<Resource> {
    const r = await new Resources(this.q).create({
      kind: 'instance', project, name, labels, idPrefix: 'i',
      spec: { image: 'busybox', flavor: 'm1.small', size: { ...size, pids: 1024 } }, status: { state: 'pending' },
    });
    await stamp(this.q, r.id, at);
    return r as Resource;
  }

  async state(r: Resource, state: string, at: string, extra: Record<string, unknown> = {}): Promise<void> {
    await new Resources(this.q).updateStatus(r.kind, r.id, (cur) => ({ ...cur, state, ...extra }));
    await stamp(this.q, r.id, at);
  }

  async remove(r: Resource, at: string): Promise<void> {
    const cur = await new Resources(this.q).getById(r.id);
    await new Resources(this.q).delete(cur!);
    await stamp(this.q, r.id, at);
  }
}
