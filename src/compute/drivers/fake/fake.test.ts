import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeDriverContract } from '../contract.test-suite.ts';
import { FakeDriver, FakeHost } from './driver.ts';

const hosts = new Map<string, FakeHost>();
computeDriverContract({
  name: 'fake',
  makeDriver: (stateDir) => {
    if (!hosts.has(stateDir)) hosts.set(stateDir, new FakeHost());
    return new FakeDriver({ host: hosts.get(stateDir)! });
  },
  imageRootfs: async () => '/nonexistent/fake-image',
  teardown: async () => {
    for (const h of hosts.values()) h.shutdown();
  },
});

test('fake: simulated OOM kill and SIGTERM-ignoring workloads', async () => {
  const host = new FakeHost();
  const d = new FakeDriver({ host });
  await d.create({ id: 'i-a', imageRootfs: '/img', command: ['server'], env: { FAKE_IGNORE_SIGTERM: '1' } });
  await d.start('i-a');
  host.oomKill('i-a');
  assert.deepEqual([(await d.inspect('i-a'))?.state, (await d.inspect('i-a'))?.oomKilled, (await d.inspect('i-a'))?.exitCode], ['exited', true, 137]);
  await d.start('i-a');
  assert.equal((await d.inspect('i-a'))?.oomKilled, false, 'a new run clears oomKilled');
  await d.stop('i-a', { timeoutMs: 10 });
  assert.equal((await d.inspect('i-a'))?.exitCode, 137);
  assert.deepEqual(host.calls, ['create i-a', 'start i-a', 'start i-a', 'stop i-a']);
  host.shutdown();
});

test('fake: a sleep longer than a timer can hold runs until stopped (the controller\'s default command)', async () => {
  const host = new FakeHost();
  const d = new FakeDriver({ host });
  await d.create({ id: 'i-long', imageRootfs: '/img', command: ['sleep', '2147483647'] });
  await d.start('i-long');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal((await d.inspect('i-long'))?.state, 'running');
  host.shutdown();
});
