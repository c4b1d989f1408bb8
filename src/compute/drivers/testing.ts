/**
 * Test helpers for compute drivers. `skipOrFail`: a test that needs a host
 * capability skips with a reason, except under CI=true where a missing
 * capability is a failure.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.CI === 'true') assert.fail(`required capability missing under CI: ${reason}`);
  t.skip(reason);
}

/** Poll until `fn` is truthy (or throw after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T | undefined | false | null>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
