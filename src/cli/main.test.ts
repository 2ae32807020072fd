import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { McmlError, exitCodeFor, httpStatusFor } from '../core/errors.js';
import { formatError, renderTable, terminalSafe } from './output.js';
import { VERSION } from './version.js';

describe('cli basics', () => {
  it('keeps VERSION in step with package.json', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
  });

  it('maps input errors to exit 2 and world errors to exit 1', () => {
    expect(exitCodeFor(new McmlError('SPEC_INVALID', 'x'))).toBe(2);
    expect(exitCodeFor(new McmlError('RESIDENCY_VIOLATION', 'x'))).toBe(2);
    expect(exitCodeFor(new McmlError('PROVIDER_UNAVAILABLE', 'x'))).toBe(1);
    expect(exitCodeFor(new Error('bug'))).toBe(1);
    expect(httpStatusFor(new McmlError('NOT_FOUND', 'x'))).toBe(404);
    expect(httpStatusFor(new McmlError('UNAVAILABLE', 'x'))).toBe(503);
  });

  it('formats expected errors without a stack trace, with issues and hints', () => {
    const text = formatError(
      new McmlError('SPEC_INVALID', 'spec.yaml: 1 problem', {
        issues: [
          {
            path: 'spec.yaml:3:5 service.nme',
            message: 'unknown key "nme"',
            hint: 'did you mean "name"?',
          },
        ],
      }),
      false,
    );
    expect(text).toBe(
      'error: spec.yaml: 1 problem\n  spec.yaml:3:5 service.nme: unknown key "nme"\n    hint: did you mean "name"?',
    );
    expect(text).not.toContain('    at ');
  });

  it('aligns tables', () => {
    const table = renderTable(
      [
        { a: 'x', n: 1 },
        { a: 'longer', n: 100 },
      ],
      [
        { header: 'NAME', value: (r) => r.a },
        { header: 'N', value: (r) => String(r.n), align: 'right' },
      ],
    );
    expect(table).toBe('NAME      N\nx         1\nlonger  100');
  });

  it('prints error text with control characters escaped and pasted values cut', () => {
    const text = formatError(
      new McmlError('SPEC_INVALID', 'bad \u001b]0;title\u0007 value', {
        issues: [{ path: 'x', message: `unknown region "${'r'.repeat(2_000_000)}"` }],
        hint: 'line one\rline two',
      }),
      false,
    );
    expect(text).toContain('bad \\x1b]0;title\\x07 value');
    expect(text).toContain('line one\\rline two');
    expect(text).toMatch(/unknown region "r{99}… \(1999902 more characters\)$/m);
    expect(text.length).toBeLessThan(500);
    expect(terminalSafe('a\nb')).toBe('a\nb');
  });

  it('shows the first 50 problems and counts the rest', () => {
    const issues = Array.from({ length: 120 }, (_, i) => ({ path: `p${i}`, message: 'bad' }));
    const text = formatError(new McmlError('SPEC_INVALID', 'many', { issues }), false);
    expect(text.split('\n')).toHaveLength(52);
    expect(text).toMatch(/\n {2}… and 70 more problems$/);
  });

  it('renders a table of 500,000 rows (no spread into Math.max)', () => {
    const rows = Array.from({ length: 500_000 }, (_, i) => i);
    const table = renderTable(rows, [{ header: 'N', value: (n) => String(n), align: 'right' }]);
    const lines = table.split('\n');
    expect([lines.length, lines[0], lines[1], lines.at(-1)]).toEqual([
      500_001,
      '     N',
      '     0',
      '499999',
    ]);
  });
});
