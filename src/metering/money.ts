/**
 * Money as integers: amounts are bigint micro-units (1 USD = 1_000_000),
 * never binary floats. Decimal strings come in and go out at the edges
 * (catalogue, API, CSV); everything in between is integer arithmetic with
 * one rounding rule (half up; amounts are never negative here).
 */
import { invalid } from '../core/errors.ts';

export type Micro = bigint;

export const MICRO = 1_000_000n;
/** The minor unit of a two-decimal currency, in micro-units (one cent). */
export const CENT: Micro = 10_000n;

const DECIMAL_RE = /^(\d{1,12})(?:\.(\d{1,6}))?$/;

/** Parses `"0.05"` → 50_000n. At most 6 decimals; no sign, no exponent. */
export function parseMoney(s: string | number, field = 'amount'): Micro {
  const text = typeof s === 'number' ? numberText(s, field) : s.trim();
  const m = DECIMAL_RE.exec(text);
  if (!m) throw invalid(field, `'${s}' is not a decimal amount (digits with at most 6 decimals, not negative)`);
  return BigInt(m[1]!) * MICRO + BigInt((m[2] ?? '').padEnd(6, '0'));
}

function numberText(n: number, field: string): string {
  if (!Number.isFinite(n) || n < 0) throw invalid(field, `'${n}' is not a non-negative amount`);
  // Numbers from YAML/JSON: take their shortest decimal text, never their binary value.
  const t = String(n);
  if (/e/i.test(t)) throw invalid(field, `'${n}': write amounts as plain decimals`);
  return t;
}

/** Integer division rounding half up (non-negative operands; `den` > 0). */
export function divRound(num: bigint, den: bigint): bigint {
  if (den <= 0n) throw new Error('divRound: denominator must be positive');
  if (num < 0n) return -divRound(-num, den);
  return (num * 2n + den) / (den * 2n);
}

/** `num/den` rounded half up to a multiple of `quantum` (micro-units). */
export function roundTo(num: bigint, den: bigint, quantum: Micro = 1n): Micro {
  return divRound(num, den * quantum) * quantum;
}

/** 50_000n → "0.05" (with `decimals` places, rounding half up). */
export function formatMoney(m: Micro, decimals = 2): string {
  const neg = m < 0n;
  const abs = neg ? -m : m;
  const q = 10n ** BigInt(6 - decimals);
  const r = divRound(abs, q);
  const scale = 10n ** BigInt(decimals);
  const whole = r / scale;
  const frac = decimals > 0 ? `.${(r % scale).toString().padStart(decimals, '0')}` : '';
  return `${neg ? '-' : ''}${whole}${frac}`;
}

/** Percent of `part` in `whole`, as a number for display and threshold checks (never for money). */
export function percentOf(part: Micro, whole: Micro): number {
  if (whole <= 0n) return part > 0n ? Number.POSITIVE_INFINITY : 0;
  return Number((part * 1_000_000n) / whole) / 10_000;
}
