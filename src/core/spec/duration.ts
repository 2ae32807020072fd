/**
 * Durations as the spec and the CLI write them: "500ms", "2s", "5m", "1h", or a number of
 * seconds. Every duration mcml accepts fits a Node.js timer: a longer one would overflow
 * `setTimeout` and fire at once (a check interval of 1000h became ~250 checks a second).
 */
import { McmlError } from '../errors.js';
import { quote } from '../quote.js';

/** The longest delay a Node.js timer holds (2³¹−1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Milliseconds in a duration, or undefined when `value` is not one (or is not finite). */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  }
  const m = DURATION.exec(value);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) ? ms : undefined;
}

/** A duration in the shortest exact form: 90000 → "90s", 5400000 → "90m", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const n = ms / UNIT_MS[unit];
    if (Number.isInteger(n) && n > 0) return `${n}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Duration in milliseconds from the spec's duration form ("2s", "500ms", 3 seconds).
 * @throws McmlError INVALID_ARGUMENT when it is not a duration or longer than a timer holds.
 */
export function durationMs(value: string | number): number {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new McmlError('INVALID_ARGUMENT', `not a duration: ${quote(value)}`, {
      hint: 'write a duration such as 500ms, 2s, 5m or 1h',
    });
  }
  if (ms > MAX_TIMER_MS) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `duration ${quote(value)} is longer than the longest timer mcml can set (about 24 days)`,
      { hint: 'use a duration of at most 24h or so' },
    );
  }
  return ms;
}
