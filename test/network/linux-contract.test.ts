/** The shared NetworkDriver contract suite, run against the real linux driver. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runNetworkDriverContract } from '../../src/network/drivers/contract.ts';
import { LinuxNetworkDriver } from '../../src/network/drivers/linux/driver.ts';
import { census, linuxNetworkMissing, scrub, skipOrFail } from './helpers.ts';

test('linux driver passes the network driver contract', { timeout: 60_000 }, async (t) => {
  const missing = await linuxNetworkMissing();
  if (missing) return skipOrFail(t, missing);
  const prefix = 'ytsc';
  await scrub(prefix);
  const stateDir = await mkdtemp(join(tmpdir(), 'yun-netc-'));
  try {
    await runNetworkDriverContract(t, () => LinuxNetworkDriver.open({ prefix, stateDir }), { base: '10.254', hostPort: 18932 });
    const left = await census(prefix);
    if (left.links + left.netns + left.tables !== 0) throw new Error(`leftovers: ${JSON.stringify({ ...left, ruleset: undefined })}`);
  } finally {
    await scrub(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
});
