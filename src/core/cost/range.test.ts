import { describe, expect, it } from 'vitest';
import type { McmlError } from '../errors.js';
import { daysIn, monthOf, parseDateRange } from './range.js';

const TODAY = '2026-12-02';
const fails = (from: string, to: string): McmlError => {
  try {
    parseDateRange(from, to, TODAY);
  } catch (error) {
    return error as McmlError;
  }
  throw new Error('expected a usage error');
};

describe('cost date ranges', () => {
  it('accepts whole days, both ends included', () => {
    const r = parseDateRange('2026-11-01', '2026-11-30', TODAY);
    expect(r).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(daysIn(r)).toBe(30);
    expect(monthOf('2028-02-10')).toEqual({ from: '2028-02-01', to: '2028-02-29' });
  });

  it('refuses --from after --to, impossible days, dates out of range, the future', () => {
    expect(fails('2026-11-30', '2026-11-01').message).toBe(
      '--from 2026-11-30 is after --to 2026-11-01',
    );
    expect(fails('2026-02-30', '2026-03-01').message).toContain('not a day of the calendar');
    expect(fails('1999-12-31', '2026-01-01').message).toContain('out of range');
    expect(fails('2026-11-01', '2999-01-01').message).toContain('--to 2999-01-01 is out of range');
    expect(fails('2027-01-01', '2027-01-02').message).toContain('in the future');
    expect(fails('yesterday', '2026-01-02').message).toContain('YYYY-MM-DD');
    expect(fails('2020-01-01', '2026-01-01').message).toContain('longest range');
    expect(fails('2026-11-30', '2026-11-01').code).toBe('USAGE');
  });
});
