import { createHash } from 'node:crypto';
import { YunError } from '../core/errors.ts';
import type { Sql } from '../store/types.ts';

/**
 * Idempotent creates: the same `Idempotency-Key` with the same body replays
 * the first answer; with a different body it is refused. The key row is
 * written in the create's own transaction, so a crash can't split them.
 */
export async function withIdempotency<T>(
  q: Sql, principal: string, key: string | undefined, body: unknown, run: () => Promise<{ status: number; body: T }>,
): Promise<{ status: number; body: T; replayed: boolean }> {
  if (!key) return { ...(await run()), replayed: false };
  if (key.length > 255) throw new YunError('ValidationFailed', 'Idempotency-Key longer than 255 characters', { field: 'header:idempotency-key' });
  const hash = createHash('sha256').update(JSON.stringify(body ?? null)).digest('hex');
  const prev = await q.get<{ request_hash: string; status: number; response: string }>(
    'SELECT request_hash, status, response FROM idempotency WHERE principal = ? AND key = ?', [principal, key]);
  if (prev) {
    if (prev.request_hash !== hash) throw new YunError('IdempotencyKeyReused', 'this Idempotency-Key was used with a different request body', { field: 'header:idempotency-key' });
    return { status: Number(prev.status), body: JSON.parse(prev.response) as T, replayed: true };
  }
  const out = await run();
  await q.run('INSERT INTO idempotency (principal, key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    [principal, key, hash, out.status, JSON.stringify(out.body), new Date().toISOString()]);
  return { ...out, replayed: false };
}
