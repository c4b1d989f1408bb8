import type { StateStore } from '../store/types.ts';

/**
 * Serialized list pages, reused while the event log's head has not moved.
 * Every resource write appends an event in its own transaction (see
 * store/resources.ts), so on SQLite — one writer at a time, sequence numbers
 * handed out in commit order, reads never see a group commit before it is
 * acknowledged — an unchanged `MAX(seq)` means no resource changed (so long
 * as nothing writes the resources table around store/resources.ts and no
 * pruning ever removes the newest event). A page is
 * tagged with the head read before the page itself: a write landing in
 * between makes the entry stale at once, never wrong. Authorization runs
 * before the cache is asked, and the key holds everything the page depends
 * on. PostgreSQL hands out sequence numbers before commit, out of commit
 * order, so it gets no cache (`forStore` answers undefined).
 */
export class ListCache {
  readonly #entries = new Map<string, { seq: number; body: string }>();
  #bytes = 0;

  /** At most `maxBytes` of bodies (UTF-16 length), none bigger than a quarter of it. */
  private constructor(private readonly store: StateStore, private readonly maxBytes: number) {}

  static forStore(store: StateStore, maxBytes = 8 << 20): ListCache | undefined {
    if (store.dialect !== 'sqlite') return undefined;
    let c = caches.get(store);
    if (!c) caches.set(store, (c = new ListCache(store, maxBytes)));
    return c;
  }

  /** The JSON body for `key`: cached if no resource changed since it was built, else `build()` serialized. */
  async json(key: string, build: () => Promise<unknown>): Promise<string> {
    const head = Number((await this.store.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM events'))?.s ?? 0);
    const hit = this.#entries.get(key);
    if (hit && hit.seq === head) {
      this.#entries.delete(key); // re-insert: Map order is the LRU order
      this.#entries.set(key, hit);
      return hit.body;
    }
    const body = JSON.stringify(await build());
    this.#drop(key);
    if (body.length > this.maxBytes / 4) return body;
    while (this.#bytes + body.length > this.maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest);
    }
    this.#entries.set(key, { seq: head, body });
    this.#bytes += body.length;
    return body;
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#bytes -= e.body.length;
  }
}

const caches = new WeakMap<StateStore, ListCache>();
