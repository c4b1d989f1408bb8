import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exposition } from './prometheus.ts';
import { TimeSeriesStore } from './tsdb.ts';
import { parseExposition } from '../../test/monitor/exposition.ts';

describe('prometheus exposition', () => {
  it('writes HELP/TYPE once per family, escapes label values, latest value with timestamp', () => {
    const db = new TimeSeriesStore();
    db.append('cpu_usage', { app: 'shop', instance: 'a' }, 1.5, { t: 1000, type: 'counter', help: 'CPU\nseconds' });
    db.append('cpu_usage', { app: 'shop', instance: 'a' }, 2.5, { t: 2000, type: 'counter' });
    db.append('cpu_usage', { app: 'we"ird\\x\ny', instance: 'b' }, 7, { t: 2000, type: 'counter' });
    db.append('memory_bytes', {}, 1024, { t: 2000 });
    const text = exposition(db.all());
    const samples = parseExposition(text);
    assert.equal(samples.length, 3);
    assert.deepEqual(samples.find((s) => s.labels.instance === 'a'), { name: 'cpu_usage', labels: { app: 'shop', instance: 'a' }, value: 2.5, ts: 2000 });
    assert.equal(samples.find((s) => s.labels.instance === 'b')!.labels.app, 'we"ird\\x\ny');
    assert.match(text, /# TYPE cpu_usage counter\n/);
    assert.match(text, /# TYPE memory_bytes gauge\n/);
  });
});
