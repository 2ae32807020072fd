/** What every bad-input run of the CLI must look like (shared by the CLI tests). */
import { expect } from 'vitest';
import type { Run } from './run.js';

/** Exit 2, one "error:" message matching `pattern`, nothing on stdout, no stack trace. */
export function expectCleanInputError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^error: /);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
  expect(run.stderr).not.toMatch(/internal error|This is a bug/);
}
