/**
 * kill9Safe: a child writes acknowledged rows into a SQLite file in a loop
 * and is killed with SIGKILL mid-stream, three times over the same file;
 * after each kill every acknowledged row must be there and every
 * transaction must be all-or-nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../index.ts';

const writer = fileURLToPath(new URL('./kill9-writer.ts', import.meta.url));

/** Runs the writer until it has acknowledged `atLeast` rows, then kill -9s it. */
function writeThenKill(db: string, start: number, atLeast: number, sync: 'FULL' | 'NORMAL' = 'FULL', concurrency = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, db, String(start), sync, String(concurrency)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length > atLeast) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited early (${code}): ${err}`));
      const lines = out.split('\n');
      lines.pop(); // a line without its newline was not fully acknowledged
      resolve(lines.map(Number));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'yun-kill9-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('kill9Safe: every acknowledged SQLite write survives kill -9', { timeout: 60_000 }, async () => {
  const db = join(dir, 'state.db');
  let next = 0;
  const acked: number[] = [];
  for (let round = 0; round < 3; round++) {
    // The last round is the cloud's setting (NORMAL) with 8 loops writing at
    // once, so acknowledgements come out of group commits.
    const got = round === 2 ? await writeThenKill(db, next, 1200, 'NORMAL', 8) : await writeThenKill(db, next, 400 + round * 137);
    assert.ok(got.length >= 400, `round ${round}: ${got.length} acks`);
    acked.push(...got);

    const store = await openStore(`sqlite:${db}`);
    try {
      const rows = await store.all<{ i: number }>('SELECT i FROM acked');
      const present = new Set(rows.map((r) => r.i));
      const missing = acked.filter((i) => !present.has(i));
      assert.deepEqual(missing, [], `round ${round}: acknowledged rows lost`);
      for (const i of present) {
        if (i >= 0 && i % 2 === 0) assert.ok(present.has(-i - 1), `tx ${i} half-applied`);
        if (i < 0) assert.ok(present.has(-i - 1), `twin ${i} without its tx row`);
      }
      next = Math.max(...present) + 1; // a committed-but-unacknowledged row may exist: skip past it
    } finally {
      await store.close();
    }
  }
});
