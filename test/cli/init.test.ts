/**
 * End to end: `mcml init` (issue 14, item 22). The starter spec it writes validates and plans
 * as written, and an existing file is never overwritten without --force.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanInputError } from './clean-error.js';
import { mcml } from './run.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-cli-init-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mcml init', () => {
  it('writes a starter spec that validates and plans as written', async () => {
    const file = join(dir, 'mcml.yaml');
    const init = await mcml(['init', file]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`wrote ${file}`);
    const validate = await mcml(['validate', '-f', file]);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/is valid: service "[^"]+", \d+ targets/);
    const plan = await mcml(['plan', '-f', file, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const parsed = JSON.parse(plan.stdout) as { placements: unknown[] };
    expect(parsed.placements.length).toBeGreaterThan(0);
  });

  it('refuses to overwrite an existing file unless --force is given', async () => {
    const file = join(dir, 'mine.yaml');
    await writeFile(file, 'my own spec\n');
    expectCleanInputError(await mcml(['init', file]), /mine\.yaml already exists/);
    expect(await readFile(file, 'utf8')).toBe('my own spec\n');
    const forced = await mcml(['init', file, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toMatch(/^#/m);
  });
});
