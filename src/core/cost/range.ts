/**
 * Date ranges of cost reports and pulls: whole UTC days, both ends inclusive, checked with
 * messages that say how to fix them. Pure: "today" comes in as a parameter.
 */
import { McmlError } from '../errors.js';
import type { DateRange } from './types.js';

const DAY_MS = 86_400_000;
/** Billing data older than this is not something mcml has ever seen; younger is a typo. */
const EARLIEST_YEAR = 2000;
/** The longest range one report or pull covers. */
export const MAX_RANGE_DAYS = 3 * 366;

/** Milliseconds since the epoch of a `YYYY-MM-DD` day's start (UTC). */
export function dayStartMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** `YYYY-MM-DD` of an instant (UTC). */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The day after `day`. */
export function nextDay(day: string): string {
  return dayOf(dayStartMs(day) + DAY_MS);
}

/** Parses one `--from`/`--to` value; throws USAGE naming the flag. */
export function parseDay(flag: string, value: string, latestYear: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  if (!m) {
    throw new McmlError('USAGE', `${flag} must be a date as YYYY-MM-DD, got "${value}"`, {
      hint: `e.g. ${flag} 2026-11-01`,
    });
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(year, month - 1, day);
  if (dayOf(ms) !== m[0]) {
    throw new McmlError('USAGE', `${flag} ${value} is not a day of the calendar`);
  }
  if (year < EARLIEST_YEAR || year > latestYear) {
    throw new McmlError(
      'USAGE',
      `${flag} ${value} is out of range: billing dates run from ${EARLIEST_YEAR} to ${latestYear}`,
    );
  }
  return m[0];
}

/**
 * Checks a report range: both days valid, `from` not after `to`, not more than
 * MAX_RANGE_DAYS long, and not starting after `today` (there is no bill for the future).
 */
export function parseDateRange(from: string, to: string, today: string): DateRange {
  const latestYear = Number(today.slice(0, 4)) + 1;
  const range = {
    from: parseDay('--from', from, latestYear),
    to: parseDay('--to', to, latestYear),
  };
  if (range.from > range.to) {
    throw new McmlError('USAGE', `--from ${range.from} is after --to ${range.to}`, {
      hint: 'swap them: --from is the first day, --to the last (both included)',
    });
  }
  if (range.from > today) {
    throw new McmlError('USAGE', `--from ${range.from} is in the future (today is ${today})`);
  }
  if (daysIn(range) > MAX_RANGE_DAYS) {
    throw new McmlError(
      'USAGE',
      `${range.from}..${range.to} is ${daysIn(range)} days; the longest range is ${MAX_RANGE_DAYS} days`,
      { hint: 'split it into shorter reports' },
    );
  }
  return range;
}

/** Days in an inclusive range. */
export function daysIn(range: DateRange): number {
  return Math.round((dayStartMs(range.to) - dayStartMs(range.from)) / DAY_MS) + 1;
}

/** Every day of an inclusive range, in order. */
export function eachDay(range: DateRange): string[] {
  const out: string[] = [];
  for (let ms = dayStartMs(range.from); ms <= dayStartMs(range.to); ms += DAY_MS)
    out.push(dayOf(ms));
  return out;
}

/** The month a day falls in, as its first and last day. */
export function monthOf(day: string): DateRange {
  const [y, m] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  return { from: dayOf(Date.UTC(y, m - 1, 1)), to: dayOf(Date.UTC(y, m, 0)) };
}

/** The default report range: the month so far, up to and including `today`. */
export function monthToDate(today: string): DateRange {
  return { from: monthOf(today).from, to: today };
}
