import type { TestContext } from 'node:test';

/**
 * Skips a test whose capability this machine lacks, saying why — except
 * under CI=true, where a missing capability is a failure: CI must prove the
 * real component works, not skip past it.
 */
export function requireCapability(t: TestContext, ok: boolean, reason: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') throw new Error(`missing capability under CI: ${reason}`);
  t.skip(reason);
  return false;
}

export const isRoot = () => process.getuid?.() === 0;
