/**
 * Decimal formatting without Intl: the first `toLocaleString` of a process loads ICU's number
 * formatting data (50 ms and more at start-up), and `mcml plan` prints a few prices.
 */

/**
 * `x` with exactly `digits` decimals and comma thousands separators: the same text as
 * `x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })`
 * (the shortest decimal form of x, rounded half away from zero).
 * @example formatDecimal(1234.5, 2) === '1,234.50'
 */
export function formatDecimal(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '∞' : '-∞';
  const negative = x < 0 || Object.is(x, -0);
  const [whole, fraction] = plainDecimal(Math.abs(x));
  let kept = whole + fraction.slice(0, digits).padEnd(digits, '0');
  if ((fraction[digits] ?? '0') >= '5') kept = increment(kept);
  const intPart = kept.slice(0, kept.length - digits) || '0';
  const grouped = intPart.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${negative ? '-' : ''}${grouped}${digits > 0 ? '.' + kept.slice(kept.length - digits) : ''}`;
}

/** The shortest decimal form of a finite non-negative number, as whole and fraction digits. */
function plainDecimal(a: number): [string, string] {
  const text = String(a);
  const e = text.indexOf('e');
  if (e < 0) {
    const [w, f = ''] = text.split('.');
    return [w!, f];
  }
  const exponent = Number(text.slice(e + 1));
  const [w, f = ''] = text.slice(0, e).split('.');
  const mantissa = w! + f;
  const point = w!.length + exponent;
  if (point <= 0) return ['0', '0'.repeat(-point) + mantissa];
  if (point >= mantissa.length) return [mantissa + '0'.repeat(point - mantissa.length), ''];
  return [mantissa.slice(0, point), mantissa.slice(point)];
}

/** Adds one to a string of decimal digits. */
function increment(digitsText: string): string {
  const d = digitsText.split('');
  for (let i = d.length - 1; i >= 0; i--) {
    if (d[i] !== '9') {
      d[i] = String(Number(d[i]) + 1);
      return d.join('');
    }
    d[i] = '0';
  }
  return '1' + d.join('');
}
