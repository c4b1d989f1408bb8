import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TimeSeriesStore } from './tsdb.ts';

describe('time-series store', () => {
  it('keeps raw points for the raw retention, then averages per coarse step, then drops', () => {
    const db = new TimeSeriesStore({ rawRetentionMs: 60_000, coarseStepMs: 30_000, coarseRetentionMs: 300_000 });
    for (let t = 0; t <= 600_000; t += 5000) db.append('g', { a: '1' }, t < 300_000 ? 10 : 20, { t });
    const [s] = db.select('g');
    assert.ok(s!.raw.length <= 13, `raw bounded (${s!.raw.length})`);
    assert.ok(s!.coarse.length <= 11 && s!.coarse.length >= 6, `coarse bounded (${s!.coarse.length})`);
    const pts = db.points(s!, 0, 600_000);
    assert.ok(pts[0]!.t >= 300_000 - 30_000, 'old coarse points dropped');
  });

  it('bounds the number of series, evicting the least recently written', () => {
    const db = new TimeSeriesStore({ maxSeries: 3 });
    for (let i = 0; i < 5; i++) db.append('m', { i: String(i) }, 1, { t: 1000 + i });
    assert.equal(db.all().length, 3);
    assert.deepEqual(db.all().map((s) => s.labels.i).sort(), ['2', '3', '4']);
  });

  it('snapshots and reloads; a torn file starts empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'yun-tsdb-'));
    try {
      const file = join(dir, 'tsdb.json');
      const a = new TimeSeriesStore({ file });
      a.append('m', { x: 'y' }, 5, { t: 1 });
      await a.save();
      const b = new TimeSeriesStore({ file });
      assert.equal(await b.load(), 1);
      assert.equal(b.select('m')[0]!.raw[0]!.v, 5);
      await writeFile(file, '{"v":1,"series":[{"na');
      assert.equal(await new TimeSeriesStore({ file }).load(), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
