/**
 * One `/v1/events` stream per session and project, fanned out to the pages
 * that subscribe by kind. Uses the SDK's `watch` (fetch streaming, so the
 * bearer token goes in a header; EventSource cannot send one).
 */
import type { WatchEvent, YunClient } from '../../src/sdk/client.ts';

type Listener = (e: WatchEvent) => void;

export class EventHub {
  private readonly listeners = new Set<{ kind?: string; fn: Listener }>();
  private stop?: () => void;
  /** The newest events first, for the dashboard's feed. */
  readonly recent: WatchEvent[] = [];

  constructor(private readonly client: YunClient) {}

  start(): void {
    this.stop ??= this.client.watch({}, (e) => {
      this.recent.unshift(e);
      if (this.recent.length > 50) this.recent.pop();
      for (const l of this.listeners) if (!l.kind || l.kind === e.kind) l.fn(e);
    });
  }

  close(): void {
    this.stop?.();
    this.stop = undefined;
  }

  /** Calls `fn` for each event of `kind` (every kind when absent); returns the unsubscribe. */
  on(kind: string | undefined, fn: Listener): () => void {
    const l = { kind, fn };
    this.listeners.add(l);
    return () => { this.listeners.delete(l); };
  }
}
