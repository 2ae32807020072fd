import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { McmlError, exitCodeFor, httpStatusFor } from '../core/errors.js';
import { formatError, renderTable } from './output.js';
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
});
