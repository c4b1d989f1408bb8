/**
 * Slows login brute force: after a few failures per user name and per
 * source address, each further attempt must wait exponentially longer
 * (capped). A success clears the user's counter. In memory: each control
 * plane replica throttles on its own, which bounds guesses per replica.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(private readonly free = 3, private readonly baseMs = 1000, private readonly maxMs = 5 * 60_000, private readonly now = () => Date.now()) {}

  /** Milliseconds the caller must still wait, 0 when an attempt is allowed. */
  retryAfterMs(keys: string[]): number {
    const t = this.now();
    return Math.max(0, ...keys.map((k) => (this.failures.get(k)?.until ?? 0) - t));
  }

  fail(keys: string[]): void {
    const t = this.now();
    for (const k of keys) {
      const f = this.failures.get(k) ?? { count: 0, until: 0 };
      f.count++;
      f.until = f.count >= this.free ? t + Math.min(this.maxMs, this.baseMs * 2 ** (f.count - this.free)) : 0;
      this.failures.set(k, f);
    }
    if (this.failures.size > 100_000) this.failures.clear();
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }
}
