/**
 * The time-series snapshot survives kill -9 of the process writing it,
 * losing at most the round in progress: a child appends 200 series per
 * round and snapshots after each; it is SIGKILLed at a random moment, and
 * the snapshot must load with every series at the last round it reported
 * saved (or the one after).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TimeSeriesStore } from '../../src/monitor/tsdb.ts';

test('metrics snapshot survives kill -9 losing at most the last round', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'yun-tsdb-kill9-'));
  try {
    const file = join(dir, 'tsdb.json');
    for (let trial = 0; trial < 3; trial++) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'tsdb-child.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let saved = 0;
      child.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l) saved = Number(l); });
      const killAfter = 5 + Math.floor(Math.random() * 10);
      await new Promise<void>((resolve) => {
        const iv = setInterval(() => { if (saved >= killAfter) { clearInterval(iv); resolve(); } }, 5);
      });
      await new Promise((r) => setTimeout(r, Math.random() * 25));
      const reported = saved;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const db = new TimeSeriesStore({ file });
      assert.equal(await db.load(), 200, 'every series loads');
      const last = db.select('cpu_percent').map((s) => s.raw.at(-1)!.v);
      const min = Math.min(...last);
      assert.ok(min >= reported && Math.max(...last) <= reported + 1, `trial ${trial}: loaded round ${min}..${Math.max(...last)}, child reported ${reported}`);
      assert.ok(last.every((v) => v === last[0]), 'one consistent snapshot, never a mix');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
