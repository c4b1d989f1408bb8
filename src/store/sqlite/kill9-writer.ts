/**
 * Child process for kill9.test.ts: writes rows forever and prints the number
 * of each one only after its commit returned ("acknowledged"). Even numbers
 * go through tx() with a twin row (-i) that must appear or vanish with it.
 * With a concurrency above 1, that many loops write at once (so the store
 * group-commits them) and each prints its row after its own commit.
 * argv: <db path> <start> <FULL|NORMAL> [concurrency]
 */
import { openStore } from '../index.ts';

const [path, startArg, sync, concurrencyArg] = process.argv.slice(2);
const concurrency = Math.max(1, Number(concurrencyArg ?? 1));
const store = await openStore(`sqlite:${path}`, { sqlite: { synchronous: sync === 'NORMAL' ? 'NORMAL' : 'FULL' } });
await store.run('CREATE TABLE IF NOT EXISTS acked (i INTEGER PRIMARY KEY, pad BLOB NOT NULL)');
const pad = Buffer.alloc(2048, 7); // rows big enough to cross WAL checkpoints
async function loop(first: number): Promise<never> {
  for (let i = first; ; i += concurrency) {
    if (i % 2 === 0) {
      await store.tx(async (q) => {
        await q.run('INSERT INTO acked (i, pad) VALUES (?, ?)', [i, pad]);
        await q.run('INSERT INTO acked (i, pad) VALUES (?, ?)', [-i - 1, pad]);
      });
    } else {
      await store.run('INSERT INTO acked (i, pad) VALUES (?, ?)', [i, pad]);
    }
    process.stdout.write(`${i}\n`); // synchronous on a pipe (Linux)
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, k) => loop(Number(startArg) + k)));
