// Child for kill9.test.ts: appends one sample per round and snapshots, printing the round after each save.
import { TimeSeriesStore } from '../../src/monitor/tsdb.ts';

const db = new TimeSeriesStore({ file: process.argv[2]! });
await db.load();
let i = 0;
for (;;) {
  i++;
  for (let s = 0; s < 200; s++) db.append('cpu_percent', { instance: `i-${s}` }, i, { t: Date.now() });
  await db.save();
  process.stdout.write(`${i}\n`);
  await new Promise((r) => setTimeout(r, 20));
}
