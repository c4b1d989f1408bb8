/**
 * Helpers for the network service tests: a test cloud with the network
 * module on the real linux driver under a private prefix, and a census of
 * the kernel objects carrying that prefix.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { resolveConfig } from '../../src/core/config.ts';
import { type NetworkModule, type NetworkModuleOptions, networkModule } from '../../src/network/module.ts';
import type { ServiceModule } from '../../src/services.ts';
import type { ComputeModule } from '../../src/compute/module.ts';
import { type TestCloud, startTestCloud } from '../helpers/cloud.ts';
import { requireCapability } from '../helpers/capability.ts';
import { linuxNetworkMissing, scrub } from '../network/helpers.ts';

export { census, nsGet, nsRun, scrub, waitFor, Procs } from '../network/helpers.ts';

/** True when the linux e2e can run; otherwise skips (fails under CI=true). */
export async function needLinux(t: TestContext): Promise<boolean> {
  const missing = await linuxNetworkMissing();
  return requireCapability(t, !missing, missing ?? '');
}

export interface NetCloud extends TestCloud {
  net: NetworkModule;
}

/** A cloud with the network module (and `extra` modules after it) on `home`. */
export async function startNetCloud(o: { prefix: string; stateDir: string; home?: string; opts?: NetworkModuleOptions; extra?: (net: NetworkModule) => Promise<ServiceModule[]> }): Promise<NetCloud> {
  const home = o.home ?? await mkdtemp(join(tmpdir(), 'yun-netsvc-'));
  const net = await networkModule(resolveConfig({ home }, {}), { driver: 'linux', prefix: o.prefix, stateDir: o.stateDir, resyncMs: 500, ...o.opts });
  const extra = o.extra ? await o.extra(net) : [];
  const tc = await startTestCloud({ home, keepHome: true, modules: [net, ...extra] });
  return { ...tc, net, stop: tc.stop };
}

export async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export const rmrf = (p: string) => rm(p, { recursive: true, force: true });

/**
 * The lines of the tables of `prefix` (inet, ip _nat, bridge) from `nft list
 * ruleset`, sorted (order may differ after a rebuild), counter values blanked;
 * other tests' tables left out.
 */
export function ownRuleset(ruleset: string, prefix: string): string {
  const out: string[] = [];
  const re = new RegExp(`^table \\w+ ${prefix}(_nat)? \\{$`);
  let inside = false;
  for (const line of ruleset.split('\n')) {
    if (!inside && re.test(line)) inside = true;
    if (inside) out.push(line.replace(/packets \d+ bytes \d+/, 'packets N bytes N')); // named counters restart with a table rebuild
    if (inside && line === '}') inside = false;
  }
  return out.sort().join('\n');
}

/**
 * Last-resort teardown of an end-to-end test: every workload deleted through
 * the compute driver, the cloud stopped, kernel objects with `prefix`
 * scrubbed, `dirs` removed. Never throws.
 */
export async function teardown(o: { compute?: ComputeModule; cloud: { stop(): Promise<void> }; prefix: string; dirs: string[] }): Promise<void> {
  if (o.compute) {
    await o.compute.controller?.stop().catch(() => undefined);
    for (const w of await o.compute.driver.list().catch(() => [])) await o.compute.driver.delete(w.id).catch(() => undefined);
  }
  await o.cloud.stop().catch(() => undefined);
  await scrub(o.prefix);
  for (const d of o.dirs) await rmrf(d);
}
