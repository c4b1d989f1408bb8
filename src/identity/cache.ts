/**
 * A tiny read-through cache for the lookups every request makes (token,
 * project, role, policies). Any identity write on this replica clears it at
 * once, so revocations and role changes apply to the very next request here;
 * other replicas see them within `ttlMs`. Misses are not cached.
 */
export class ShortCache {
  private readonly map = new Map<string, { at: number; value: Promise<unknown> }>();
  private generation = 0;

  constructor(private readonly ttlMs = 1000, private readonly max = 10_000, private readonly now = () => Date.now()) {}

  get<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const t = this.now();
    const hit = this.map.get(key);
    if (hit && t - hit.at < this.ttlMs) return hit.value as Promise<T | undefined>; // no async wrapper: a hit costs no extra promise
    return this.miss(key, load, t);
  }

  private async miss<T>(key: string, load: () => Promise<T | undefined>, t: number): Promise<T | undefined> {
    const gen = this.generation;
    const value = load();
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, { at: t, value });
    const v = await value.catch((e) => { this.map.delete(key); throw e; });
    if (v === undefined || gen !== this.generation) this.map.delete(key);
    return v;
  }

  clear(): void {
    this.generation++;
    this.map.clear();
  }
}
