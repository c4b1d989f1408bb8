import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { computeDriverContract } from '../contract.test-suite.ts';
import { eventually } from '../testing.ts';
import { ProcessDriver } from './driver.ts';

computeDriverContract({
  name: 'process',
  makeDriver: (stateDir) => new ProcessDriver({ stateDir }),
  imageRootfs: async () => '/',
  childProcess: { module: fileURLToPath(new URL('./driver.ts', import.meta.url)), exportName: 'ProcessDriver' },
});

test('process: says which isolation it does not provide', async () => {
  const caps = await new ProcessDriver({ stateDir: '/nonexistent' }).capabilities();
  assert.equal(caps.isolation.pid, false);
  assert.equal(caps.isolation.net, false);
  assert.equal(caps.isolation.rootfs, false);
  assert.equal(caps.enforces.cpus, false);
  assert.equal(caps.oomDetection, false);
});

test('process: files, user-data once, memory rlimit in force, workload survives its parent', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'yun-process-'));
  const d = new ProcessDriver({ stateDir });
  try {
    await d.create({
      id: 'i-p1',
      imageRootfs: '/',
      command: ['sh', '-c', 'cat "$YUN_ROOT/run/yun/meta_data.json"; echo; grep "Max data size" /proc/self/limits; sleep 1000'],
      limits: { memoryMb: 256 },
      files: [{ path: '/run/yun/meta_data.json', content: '{"uuid":"i-p1"}' }],
      userData: '#!/bin/sh\necho ran >> "$YUN_ROOT/run/yun/count"\n',
    });
    await d.start('i-p1');
    await eventually(async () => /Max data size/.test(await d.readLog('i-p1')), 5000, 'log');
    const log = await d.readLog('i-p1');
    assert.match(log, /\{"uuid":"i-p1"\}/);
    assert.match(log, /Max data size\s+268435456\s+268435456/);
    await d.stop('i-p1', { timeoutMs: 1000 });
    await d.start('i-p1');
    await d.stop('i-p1', { timeoutMs: 1000 });
    const count = await readFile(join(stateDir, 'workloads/i-p1/root/run/yun/count'), 'utf8');
    assert.equal(count, 'ran\n', 'user-data ran exactly once over two starts');
  } finally {
    await d.delete('i-p1');
    await rm(stateDir, { recursive: true, force: true });
  }
});
