import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCatalogue } from './catalogue.ts';
import { MONTH_SECONDS } from './meters.ts';
import { CENT, formatMoney } from './money.ts';
import { Rater, hourCuts, splitPeriod } from './rating.ts';

const GB_MONTH = 1000n * BigInt(MONTH_SECONDS); // storage.object base units (MB-s) per GB-month
const T0 = Date.parse('2026-11-01T00:00:00Z');

describe('rating', () => {
  it('the seed: 100 GB for 3 months at 0.05 → 15.00', () => {
    const r = new Rater(buildCatalogue('x'), CENT);
    assert.equal(formatMoney(r.charge('p', 'storage.object', 300n * GB_MONTH, T0)), '15.00');
  });

  it('tiers and free tier: first 1 GB free, 0.09 to 10 TB, then 0.085', () => {
    const r = new Rater(buildCatalogue('x'));
    const GB = 1_000_000_000n;
    assert.equal(r.charge('p', 'network.data_out', GB, T0), 0n);
    assert.equal(formatMoney(r.charge('p', 'network.data_out', 10n * GB, T0)), '0.90');
    // crossing the 10241 GB boundary: 10230 GB more at 0.09, 10 at 0.085
    assert.equal(formatMoney(r.charge('p', 'network.data_out', 10_240n * GB, T0)), `${(10_230 * 0.09 + 10 * 0.085).toFixed(2)}`);
    // another project and another month start from zero
    assert.equal(r.charge('q', 'network.data_out', GB, T0), 0n);
    assert.equal(r.charge('p', 'network.data_out', GB, Date.parse('2026-12-01T00:00:00Z')), 0n);
  });

  it('many tiny charges sum to the rounded total exactly', () => {
    const cat = buildCatalogue('x');
    const a = new Rater(cat, CENT);
    let sum = 0n;
    for (let i = 0; i < 10_000; i++) sum += a.charge('p', 'compute.vcpu:container', 3_600n * 7n, T0); // 25.2 vCPU-s each
    const b = new Rater(cat, CENT);
    assert.equal(sum, b.charge('p', 'compute.vcpu:container', 3_600n * 7n * 10_000n, T0));
    assert.equal(formatMoney(sum), '1.40'); // 70 vCPU-hours × 0.02
  });

  it('price change: the version in effect at the charge time applies', () => {
    const cat = buildCatalogue('x', 'regions:\n  default:\n    compute.vcpu:\n      - price: "0.02"\n      - { from: "2026-11-15T00:00:00Z", price: "0.04" }\n');
    const change = Date.parse('2026-11-15T00:00:00Z');
    const parts = splitPeriod(change - 2 * 3_600_000, change + 2 * 3_600_000, 4n * 3_600_000n, [change]);
    assert.deepEqual(parts.map((p) => p.quantity), [7_200_000n, 7_200_000n]);
    const r = new Rater(cat, CENT);
    const total = parts.reduce((s, p) => s + r.charge('p', 'compute.vcpu:vm', p.quantity, p.start), 0n);
    assert.equal(formatMoney(total), '0.12'); // 2 h × 0.02 + 2 h × 0.04
  });

  it('splitPeriod keeps the exact total; hourCuts', () => {
    const parts = splitPeriod(0, 10_000, 7n, [3_333, 6_666]);
    assert.equal(parts.reduce((s, p) => s + p.quantity, 0n), 7n);
    assert.deepEqual(hourCuts(T0 + 1, T0 + 2 * 3_600_000 + 5), [T0 + 3_600_000, T0 + 7_200_000]);
    assert.deepEqual(hourCuts(T0, T0 + 3_600_000), []);
  });

  it('unpriced skus cost nothing and are reported', () => {
    const cat = buildCatalogue('x');
    const r = new Rater({ ...cat, skus: new Map() });
    assert.equal(r.charge('p', 'storage.object', 5n, T0), 0n);
    assert.ok(r.unpriced.has('storage.object'));
  });
});
