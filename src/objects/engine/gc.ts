/**
 * Blob garbage collection. Blobs of replaced/deleted versions are queued in
 * `objects_gc` in the same transaction that unlinks them, deleted right after
 * commit, and the queue is drained again at start. Blobs that were written
 * but never committed (crash between rename and metadata commit) are found
 * at start by comparing the backend with every referenced blob.
 */
import type { EngineCtx } from './context.ts';
import type { BlobDesc } from './types.ts';

export async function drainGcQueue(ctx: EngineCtx): Promise<number> {
  const rows = await ctx.store.all<{ blob: string }>('SELECT blob FROM objects_gc');
  for (const r of rows) {
    await ctx.backend.delete(r.blob);
    await ctx.store.run('DELETE FROM objects_gc WHERE blob = ?', [r.blob]);
  }
  return rows.length;
}

/** Deletes blobs older than `beforeMs` that no version or part references. */
export async function collectOrphans(ctx: EngineCtx, beforeMs: number): Promise<number> {
  const referenced = new Set<string>();
  for (const r of await ctx.store.all<{ blobs: string }>('SELECT blobs FROM objects_versions WHERE delete_marker = 0')) {
    for (const d of JSON.parse(r.blobs) as BlobDesc[]) referenced.add(d.id);
  }
  for (const r of await ctx.store.all<{ blob: string }>('SELECT blob FROM objects_parts')) referenced.add((JSON.parse(r.blob) as BlobDesc).id);
  let n = 0;
  for await (const b of ctx.backend.list()) {
    if (referenced.has(b.id) || b.mtimeMs >= beforeMs) continue;
    await ctx.backend.delete(b.id);
    n++;
  }
  return n;
}

/**
 * Post-commit deleter. Ids are queued and deleted in batches: files first,
 * then their queue rows in one statement (one commit for many blobs).
 * Failures stay in the queue table and are retried at the next start.
 */
export function makeCollector(getCtx: () => EngineCtx, onError: (e: unknown) => void): (ids: string[]) => void {
  let queue: string[] = [];
  let running = false;
  const loop = async () => {
    running = true;
    try {
      while (queue.length) {
        await new Promise((r) => setTimeout(r, 20));
        const batch = queue;
        queue = [];
        const ctx = getCtx();
        const done: string[] = [];
        for (let i = 0; i < batch.length; i += 16) {
          await Promise.all(batch.slice(i, i + 16).map((id) => ctx.backend.delete(id).then(() => { done.push(id); }, onError)));
        }
        for (let i = 0; i < done.length; i += 500) {
          const chunk = done.slice(i, i + 500);
          await ctx.store.run(`DELETE FROM objects_gc WHERE blob IN (${chunk.map(() => '?').join(', ')})`, chunk).catch(onError);
        }
      }
    } finally {
      running = false;
    }
  };
  return (ids) => {
    if (ids.length === 0) return;
    queue.push(...ids);
    if (!running) void loop();
  };
}
