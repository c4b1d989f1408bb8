/**
 * kill -9 of yun in the middle of wiring instances: the next start converges
 * the kernel to the store — every stored port fully attached exactly once,
 * nothing else left (no half-made veth, namespace or rule).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/network/drivers/linux/exec.ts';
import { NetworkApi } from '../../src/sdk/network.ts';
import { census, needLinux, rmrf, scrub, startNetCloud, tmp, waitFor } from './helpers.ts';

const PREFIX = 'yk9';

/** Our `inet` table only (other tests on the host have their own). */
function ownTable(ruleset: string): string {
  const start = ruleset.indexOf(`table inet ${PREFIX} {`);
  if (start < 0) return '';
  const end = ruleset.indexOf('\n}', start);
  return ruleset.slice(start, end);
}

test('kill -9 mid-setup leaves nothing the next start does not clean or adopt', { timeout: 180_000 }, async (t) => {
  if (!(await needLinux(t))) return;
  await scrub(PREFIX);
  const before = await census(PREFIX);
  const home = await tmp('yun-netsvc-k9-');
  const stateDir = await tmp('yun-netsvc-k9-state-');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/kill9-child.ts')], {
    env: { ...process.env, HOME_DIR: home, STATE_DIR: stateDir, PREFIX }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  let cloud: Awaited<ReturnType<typeof startNetCloud>> | undefined;
  try {
    assert.ok(await waitFor(async () => out.includes('ready'), 60_000, 100), 'child cloud started');
    const hostVeths = async () => (await run('ip', ['-o', 'link'])).stdout.split('\n').filter((l) => new RegExp(`^\\d+: ${PREFIX}h`).test(l)).length;
    assert.ok(await waitFor(async () => (await hostVeths()) >= 4, 60_000, 20), 'child is wiring instances');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(!out.includes('done'), 'killed mid-setup');

    cloud = await startNetCloud({ prefix: PREFIX, stateDir, home, opts: { orphanPortGraceMs: Number.POSITIVE_INFINITY } });
    const api = new NetworkApi(cloud.admin);
    const ports = (await api.networks.ports('default')).items;
    const c = await census(PREFIX);
    const own = ownTable(c.ruleset);
    assert.equal(c.links, 1 + ports.length, 'one bridge plus one veth per stored port');
    assert.equal(c.netns, ports.length, 'one namespace per stored instance');
    for (const p of ports) assert.equal((own.match(new RegExp(`ip saddr ${p.ip.replace(/\./g, '\\.')} jump`, 'g')) ?? []).length, 2, `rules of ${p.ip} exactly once`);
    assert.equal((own.match(/jump pe_/g) ?? []).length, 2 * ports.length, 'no rules of unstored ports');

    // the adopted ports work and then release cleanly
    const projectId = (await cloud.admin.projects.get('default')).id as string;
    for (const p of ports) await cloud.net.networking.release({ id: p.instanceId, name: p.instance, project: projectId, hostname: p.instance });
    await api.networks.delete('default');
    assert.ok(await waitFor(async () => (await census(PREFIX)).links === before.links, 10_000), 'nothing leaked');
    assert.equal((await census(PREFIX)).netns, before.netns);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await cloud?.stop().catch(() => undefined);
    await scrub(PREFIX);
    await rmrf(home);
    await rmrf(stateDir);
  }
});
