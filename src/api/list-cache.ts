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
 *
 * The head query itself takes a read lock and was most of a cached list's
 * cost, so a page also keeps the store's change stamp (SqliteStore
 * `changeStamp`, which moves at every commit to the database by any
 * connection): while it has not moved, the page is served without a query.
 */
/** The SQLite store's cheap "anything committed since?" probe (sqlite-store.ts). */
interface Stamped { changeStamp(): string | undefined }

export class ListCache {
  readonly #entries = new Map<string, { seq: number; stamp: string | undefined; body: string }>();
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
    // Fast path: nothing at all was committed since the page was checked.
    // Read before the head, so a commit in between only makes it stale.
    const stamp = (this.store as Partial<Stamped>).changeStamp?.();
    const hit = this.#entries.get(key);
    if (hit && stamp !== undefined && hit.stamp === stamp) return this.#touch(key, hit);
    const head = Number((await this.store.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM events'))?.s ?? 0);
    if (hit && hit.seq === head) {
      hit.stamp = stamp; // other tables changed, resources did not
      return this.#touch(key, hit);
    }
    const body = JSON.stringify(await build());
    this.#drop(key);
    if (body.length > this.maxBytes / 4) return body;
    while (this.#bytes + body.length > this.maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest);
    }
    this.#entries.set(key, { seq: head, stamp, body });
    this.#bytes += body.length;
    return body;
  }

  #touch(key: string, e: { seq: number; stamp: string | undefined; body: string }): string {
    this.#entries.delete(key); // re-insert: Map order is the LRU order
    this.#entries.set(key, e);
    return e.body;
  }

  #drop(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#bytes -= e.body.length;
  }
}

const caches = new WeakMap<StateStore, ListCache>();
