import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Behavior, DEFAULT_BEHAVIOR, type DecisionState, decide } from './decide.ts';

const B: Behavior = { ...DEFAULT_BEHAVIOR, scaleUpStabilizationMs: 4_000, scaleDownStabilizationMs: 30_000 };
const rps = (value: number | undefined) => [{ type: 'rps-per-replica' as const, target: 100, value }];

/** Runs the decision every 2 s over a reading function, applying each decision; returns the replica counts. */
function simulate(start: number, seconds: number, reading: (t: number) => number, o: { min?: number; max?: number; b?: Behavior; idle?: (t: number) => number } = {}) {
  const st: DecisionState = { recs: [] };
  let cur = start;
  const seen: number[] = [];
  for (let t = 0; t <= seconds * 1000; t += 2000) {
    cur = decide({ now: t, current: cur, min: o.min ?? 1, max: o.max ?? 20, readings: rps(reading(t)), idleMs: o.idle?.(t) }, st, o.b ?? B).desired;
    seen.push(cur);
  }
  return seen;
}
const changes = (xs: number[]) => xs.filter((x, i) => i > 0 && x !== xs[i - 1]).length;

describe('autoscale decision', () => {
  it('scales up once the breach holds over the scale-up window, straight to what the load needs', () => {
    const st: DecisionState = { recs: [] };
    const d1 = decide({ now: 0, current: 2, min: 1, max: 20, readings: rps(600) }, st, B);
    assert.equal(d1.desired, 2, 'one sample is not sustained');
    assert.equal(d1.recommended, 6);
    const d2 = decide({ now: 2000, current: 2, min: 1, max: 20, readings: rps(600) }, st, B);
    assert.equal(d2.desired, 2);
    const d3 = decide({ now: 4000, current: 2, min: 1, max: 20, readings: rps(600) }, st, B);
    assert.equal(d3.desired, 6, d3.reason);
  });

  it('limits the step: at most double or +maxScaleUpStep per decision', () => {
    const st: DecisionState = { recs: [] };
    for (const t of [0, 2000]) decide({ now: t, current: 1, min: 1, max: 50, readings: rps(5000) }, st, B);
    assert.equal(decide({ now: 4000, current: 1, min: 1, max: 50, readings: rps(5000) }, st, B).desired, 5);
  });

  it('scales down only after the whole stabilization window was low, by at most half', () => {
    const seen = simulate(8, 70, () => 100);
    const firstDrop = seen.findIndex((n) => n < 8);
    assert.ok(firstDrop * 2 >= 30, `no scale-down before 30 s (dropped at ${firstDrop * 2}s)`);
    assert.equal(seen[firstDrop], 4, 'half of the replicas per step');
    assert.equal(seen.at(-1), 1);
  });

  it('min and max bound the result; a raised min applies at once', () => {
    assert.equal(simulate(2, 20, () => 10_000, { max: 5 }).at(-1), 5);
    assert.equal(simulate(2, 40, () => 0, { min: 2 }).at(-1), 2);
    const st: DecisionState = { recs: [] };
    assert.equal(decide({ now: 0, current: 1, min: 3, max: 5, readings: rps(0) }, st, B).desired, 3);
  });

  it('does not flap on noisy load around the target', () => {
    let seed = 42;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    // 3 replicas, 300 rps ± 25 % noise, target 100 per replica, for 5 minutes.
    const seen = simulate(3, 300, () => 300 * (0.75 + rnd() * 0.5));
    assert.ok(changes(seen) <= 2, `at most 2 scale events, saw ${changes(seen)}: ${seen.join(',')}`);
    assert.ok(seen.every((n) => n >= 3 && n <= 4), seen.join(','));
  });

  it('no data holds the current count', () => {
    const d = decide({ now: 0, current: 3, min: 1, max: 10, readings: rps(undefined) }, { recs: [] }, B);
    assert.equal(d.desired, 3);
    assert.match(d.reason, /no metric data/);
  });

  it('scales to zero only after the idle period, and wakes on demand at once', () => {
    const b = { ...B, idleToZeroMs: 20_000 };
    const seen = simulate(2, 80, () => 0, { min: 0, b, idle: (t) => t });
    const zeroAt = seen.indexOf(0) * 2;
    assert.ok(zeroAt >= 20, `not before the idle period (at ${zeroAt}s)`);
    assert.equal(seen.at(-1), 0);
    const st: DecisionState = { recs: [{ t: 0, n: 0 }] };
    const d = decide({ now: 1000, current: 0, min: 0, max: 5, readings: rps(0), idleMs: 0, demand: true }, st, b);
    assert.equal(d.desired, 1, d.reason);
  });

  it('cpu utilization target: proportional, within tolerance no change', () => {
    const cpu = (value: number) => [{ type: 'cpu' as const, target: 50, value }];
    const st: DecisionState = { recs: [] };
    assert.equal(decide({ now: 0, current: 4, min: 1, max: 20, readings: cpu(54) }, st, B).recommended, 4);
    assert.equal(decide({ now: 1, current: 4, min: 1, max: 20, readings: cpu(100) }, { recs: [] }, B).recommended, 8);
  });
});
