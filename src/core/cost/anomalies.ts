/**
 * Days that stand out in a daily spend series: a robust z-score (median and median absolute
 * deviation, as Iglewicz and Hoaglin propose), so one spike does not hide itself by moving
 * the mean. Pure.
 */

export interface Anomaly {
  day: string;
  cloud: string;
  currency: string;
  billed: number;
  /** The series' median: what a normal day costs. */
  expected: number;
  kind: 'spike' | 'drop';
  /** The modified z-score (0.6745 × deviation / MAD); Infinity when MAD is 0. */
  score: number;
}

/** Fewest days a series needs before a day can stand out in it. */
export const MIN_DAYS_FOR_ANOMALIES = 7;
/** Modified z-score above which a day is named. */
export const ANOMALY_THRESHOLD = 3.5;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The days of one series (`day → billed`, every day of the range present, zeros included)
 * whose spend is far from the median. A day must also differ from the median by at least
 * 20% and by one currency unit, so flat series with cent-level noise name nothing.
 */
export function findAnomalies(
  cloud: string,
  currency: string,
  series: { day: string; billed: number }[],
): Anomaly[] {
  if (series.length < MIN_DAYS_FOR_ANOMALIES) return [];
  const values = series.map((d) => d.billed);
  const med = median(values);
  const mad = median(values.map((v) => Math.abs(v - med)));
  const out: Anomaly[] = [];
  for (const d of series) {
    const deviation = d.billed - med;
    const material = Math.abs(deviation) >= Math.max(1, 0.2 * Math.abs(med));
    if (!material) continue;
    const score = mad === 0 ? Infinity : (0.6745 * Math.abs(deviation)) / mad;
    if (score <= ANOMALY_THRESHOLD) continue;
    out.push({
      day: d.day,
      cloud,
      currency,
      billed: d.billed,
      expected: med,
      kind: deviation > 0 ? 'spike' : 'drop',
      score,
    });
  }
  return out;
}
