import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CENT, divRound, formatMoney, parseMoney, percentOf, roundTo } from './money.ts';

describe('money', () => {
  it('parses decimals exactly, refuses floats-in-disguise and negatives', () => {
    assert.equal(parseMoney('0.05'), 50_000n);
    assert.equal(parseMoney('15'), 15_000_000n);
    assert.equal(parseMoney('0.000001'), 1n);
    assert.equal(parseMoney(0.1), 100_000n);
    assert.throws(() => parseMoney('-1'), /not a decimal/);
    assert.throws(() => parseMoney('1e3'), /not a decimal/);
    assert.throws(() => parseMoney('0.0000001'), /not a decimal/);
    assert.throws(() => parseMoney(-2), /non-negative/);
  });
  it('formats with half-up rounding', () => {
    assert.equal(formatMoney(15_000_000n), '15.00');
    assert.equal(formatMoney(4_999n), '0.00');
    assert.equal(formatMoney(5_000n), '0.01');
    assert.equal(formatMoney(123_456_789n, 6), '123.456789');
    assert.equal(formatMoney(0n), '0.00');
  });
  it('0.1 + 0.2 is 0.3 (no binary floats)', () => {
    assert.equal(formatMoney(parseMoney('0.1') + parseMoney('0.2')), '0.30');
    assert.equal(parseMoney('0.1') + parseMoney('0.2'), parseMoney('0.3'));
  });
  it('rounds half up to a quantum', () => {
    assert.equal(divRound(5n, 2n), 3n);
    assert.equal(divRound(4n, 3n), 1n);
    assert.equal(roundTo(15_004_999n, 1n, CENT), 15_000_000n);
    assert.equal(roundTo(15_005_000n, 1n, CENT), 15_010_000n);
    assert.equal(percentOf(40n, 50n), 80);
  });
});
