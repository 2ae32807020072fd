import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDecimal } from './decimal.js';

const icu = (x: number, digits: number) =>
  x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

describe('formatDecimal', () => {
  it('prints what toLocaleString("en-US") prints, for any double and 0–6 decimals', () => {
    fc.assert(
      fc.property(fc.double(), fc.integer({ min: 0, max: 6 }), (x, digits) => {
        expect(formatDecimal(x, digits)).toBe(icu(x, digits));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees on prices, ties and carries', () => {
    const cases = [0, -0, 1.005, 0.125, 2.675, 999.995, 1234567.891, 0.00005, 1e-7, 1e21, 0.0416];
    for (const x of cases)
      for (const digits of [0, 2, 4]) expect(formatDecimal(x, digits)).toBe(icu(x, digits));
    expect(formatDecimal(1234.5, 2)).toBe('1,234.50');
  });
});
