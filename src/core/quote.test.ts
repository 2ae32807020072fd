import { describe, expect, it } from 'vitest';
import { printable, quote } from './quote.js';

describe('printable and quote', () => {
  it('escapes terminal control characters and bidirectional overrides', () => {
    expect(printable('a\u001b[31mb\u0007\r\n\t\u009b\u202e')).toBe(
      'a\\x1b[31mb\\x07\\r\\n\\t\\x9b\\u202e',
    );
    expect(printable('plain text, ünïcode ✓')).toBe('plain text, ünïcode ✓');
  });

  it('cuts long text and says how much is left out', () => {
    expect(printable('x'.repeat(2_000_000), 10)).toBe('xxxxxxxxxx… (1999990 more characters)');
    expect(printable('😀'.repeat(10), 5)).toBe('😀😀… (16 more characters)');
  });

  it('quotes with escaped quotes and backslashes', () => {
    expect(quote('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
    expect(quote(42)).toBe('"42"');
  });
});
