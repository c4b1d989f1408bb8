import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluate, instant, parseDuration, parseQuery } from './query.ts';
import { TimeSeriesStore } from './tsdb.ts';

function db() {
  const d = new TimeSeriesStore();
  for (let i = 0; i <= 60; i++) {
    const t = i * 1000;
    d.append('http_requests_total', { app: 'shop', instance: 'a' }, i * 10, { t, type: 'counter' });
    d.append('http_requests_total', { app: 'shop', instance: 'b' }, i * 30, { t, type: 'counter' });
    d.append('http_requests_total', { app: 'blog', instance: 'c' }, i, { t, type: 'counter' });
    d.append('cpu_percent', { app: 'shop', instance: 'a' }, i % 2 ? 80 : 40, { t });
  }
  return d;
}

describe('metrics query', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('x'), undefined);
  });

  it('selects by label matchers', () => {
    const d = db();
    assert.equal(instant(d, 'http_requests_total{app="shop"}', 60_000).length, 2);
    assert.equal(instant(d, 'http_requests_total{app!="shop"}', 60_000).length, 1);
    assert.equal(instant(d, 'http_requests_total{instance=~"a|c"}', 60_000).length, 2);
    assert.equal(instant(d, 'http_requests_total{instance!~"a|c"}', 60_000)[0]!.labels.instance, 'b');
    assert.equal(instant(d, 'nope', 60_000).length, 0);
  });

  it('rate, aggregation by label, over-time functions', () => {
    const d = db();
    const r = instant(d, 'sum by (app) (rate(http_requests_total[30s]))', 60_000);
    const shop = r.find((x) => x.labels.app === 'shop')!;
    assert.ok(Math.abs(shop.value - 40) < 1e-9, String(shop.value));
    assert.equal(instant(d, 'sum(rate(http_requests_total[30s])) by (app)', 60_000).length, 2);
    assert.equal(instant(d, 'max_over_time(cpu_percent[10s])', 60_000)[0]!.value, 80);
    assert.equal(instant(d, 'avg_over_time(cpu_percent[10s])', 60_000)[0]!.value, 60);
    const q = instant(d, 'quantile_over_time(0.95, cpu_percent{app="shop"}[1m])', 60_000)[0]!.value;
    assert.equal(q, 80);
  });

  it('range query returns one point per step', () => {
    const out = evaluate(db(), parseQuery('cpu_percent'), { from: 0, to: 60_000, stepMs: 10_000 });
    assert.equal(out[0]!.points.length, 7);
  });

  it('counter resets are handled by rate', () => {
    const d = new TimeSeriesStore();
    for (const [i, v] of [0, 10, 20, 5, 15].entries()) d.append('c', {}, v, { t: i * 1000, type: 'counter' });
    assert.equal(instant(d, 'increase(c[10s])', 4000)[0]!.value > 0, true);
    assert.equal(instant(d, 'rate(c[10s])', 4000)[0]!.value, (10 + 10 + 5 + 10) / 4);
  });

  it('syntax errors point at the position', () => {
    for (const [q, pos] of [['cpu{app="x"', 12], ['cpu{app~"x"}', 8], ['rate(cpu)', 6], ['sum(cpu', 8], ['cpu[5q]', 5], ['cpu}', 4], ['', 1]] as const) {
      assert.throws(() => parseQuery(q), (e: Error & { code?: string; details?: { position: number } }) => {
        assert.equal(e.code, 'ValidationFailed');
        assert.equal(e.details?.position, pos, `${q}: ${e.message}`);
        return true;
      });
    }
  });
});
