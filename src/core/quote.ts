/**
 * Showing text that came from a user's file in a message. Such text can hold terminal escape
 * sequences (which recolour or rewrite the screen) or megabytes of one value: messages show it
 * escaped and cut short, so an error stays readable and cannot drive the terminal.
 */

/** How many characters of one value a message shows before cutting it short. */
export const ECHO_LIMIT = 80;

// C0 and C1 controls, DEL, and the bidirectional overrides that can reorder what is shown.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with control characters escaped (`\x1b`, `\n`) and cut to `limit` characters, with
 * how many were left out.
 * @example printable('a\u001b[31m', 80) === 'a\\x1b[31m'
 */
export function printable(text: string, limit = ECHO_LIMIT): string {
  let cut = limit;
  // Never split a surrogate pair: half of one shows as a replacement character.
  if (text.length > limit && /[\ud800-\udbff]/.test(text.charAt(limit - 1))) cut -= 1;
  const head = text.length > limit ? text.slice(0, cut) : text;
  const escaped = head.replace(UNPRINTABLE, escapeChar);
  if (text.length <= limit) return escaped;
  return `${escaped}… (${text.length - cut} more characters)`;
}

/** A value in double quotes for a message: escaped and cut short like `printable`. */
export function quote(value: unknown, limit = ECHO_LIMIT): string {
  const text = typeof value === 'string' ? value : String(value);
  return `"${printable(
    text.replace(/["\\]/g, (c) => `\\${c}`),
    limit,
  )}"`;
}
