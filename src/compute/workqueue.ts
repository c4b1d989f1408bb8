/**
 * A controller work queue (controller-runtime's shape): keys are
 * deduplicated, one reconcile per key at a time, `after` delays a key,
 * failures back off exponentially per key until a success resets them.
 */
export type ReconcileResult = { requeueAfterMs?: number } | undefined;

export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly active = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private readonly waiting: string[] = [];
  private workers = 0;
  private stopped = false;

  constructor(
    private readonly reconcile: (key: string) => Promise<ReconcileResult>,
    private readonly onError: (key: string, e: unknown) => void,
    private readonly concurrency = 4,
    private readonly maxBackoffMs = 30_000,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.active.has(key)) this.waiting.push(key);
    this.pump();
  }

  after(key: string, ms: number): void {
    if (this.stopped) return;
    const prev = this.timers.get(key);
    if (prev) clearTimeout(prev);
    const t = setTimeout(() => { this.timers.delete(key); this.add(key); }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  private pump(): void {
    while (!this.stopped && this.workers < this.concurrency && this.waiting.length) {
      const key = this.waiting.shift()!;
      this.dirty.delete(key);
      this.active.add(key);
      this.workers++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const r = await this.reconcile(key);
      this.failures.delete(key);
      if (r && r.requeueAfterMs !== undefined) this.after(key, r.requeueAfterMs);
    } catch (e) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.onError(key, e);
      this.after(key, Math.min(this.maxBackoffMs, 200 * 2 ** (n - 1)));
    } finally {
      this.active.delete(key);
      this.workers--;
      if (this.dirty.has(key)) this.waiting.push(key);
      this.pump();
    }
  }

  /** Waits for in-flight reconciles; nothing new starts. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    while (this.workers > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
