/**
 * Files named on the command line (issue 14, items 15 and 18): only regular files, read with a
 * limit, and every problem with the path an input error (exit 2) that says what is wrong.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor, McmlError } from '../core/errors.js';
import { loadCatalog } from './catalog-files.js';
import { readInputFile } from './input-file.js';
import { loadSpecFile } from './spec-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-input-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<McmlError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(McmlError);
    return error as McmlError;
  }
  throw new Error('expected a failure');
}

const options = { what: 'spec file', maxBytes: 100 };

describe('readInputFile', () => {
  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const error = await failure(readInputFile(fifo, options));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(`spec file ${fifo} is a named pipe (FIFO), not a regular file`);
  });

  it('refuses a character device such as /dev/zero instead of filling memory', async () => {
    const error = await failure(readInputFile('/dev/zero', options));
    expect(error.message).toBe('spec file /dev/zero is a character device, not a regular file');
    expect(exitCodeFor(error)).toBe(2);
  });

  it('reads up to the limit and refuses one byte more', async () => {
    const exact = join(dir, 'exact.yaml');
    await writeFile(exact, 'x'.repeat(100));
    expect(await readInputFile(exact, options)).toHaveLength(100);
    const over = join(dir, 'over.yaml');
    await writeFile(over, 'x'.repeat(101));
    const error = await failure(readInputFile(over, options));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^spec file .*over\.yaml is larger than 0\.00 MiB/);
  });

  it('maps path problems to input errors with clear messages', async () => {
    const file = join(dir, 'plain.yaml');
    await writeFile(file, 'a: 1\n');
    await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
    await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
    const cases: [string, string, RegExp][] = [
      [join(dir, 'missing.yaml'), 'NOT_FOUND', /does not exist$/],
      [join(file, 'inside.yaml'), 'NOT_FOUND', /a part of the path is a file, not a directory/],
      [
        join(dir, `${'n'.repeat(300)}.yaml`),
        'INVALID_ARGUMENT',
        /path is too long \(\d+ characters\)/,
      ],
      [join(dir, 'loop-a'), 'INVALID_ARGUMENT', /its symbolic links loop/],
      [dir, 'USAGE', /is a directory, not a spec file$/],
      [`${dir}/nul\u0000.yaml`, 'INVALID_ARGUMENT', /path .*nul\\x00\.yaml is not valid/],
    ];
    for (const [path, code, message] of cases) {
      const error = await failure(readInputFile(path, options));
      expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)]);
      expect(exitCodeFor(error)).toBe(2);
      expect(error.message.length).toBeLessThan(300);
    }
  });
});

describe('spec and catalog files', () => {
  it('a spec path that is too long is an input error, not PROVIDER_UNAVAILABLE', async () => {
    const error = await failure(loadSpecFile('s'.repeat(5000)));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^the spec file path is too long \(5000 characters\)/);
  });

  it('a spec file over 1 MiB is refused before it is parsed', async () => {
    const big = join(dir, 'big.yaml');
    await writeFile(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    const error = await failure(loadSpecFile(big));
    expect(error.message).toMatch(/is larger than 1\.0 MiB/);
  });

  it('catalog directories with a bad path are input errors', async () => {
    const long = await failure(loadCatalog('c'.repeat(5000)));
    expect([long.code, exitCodeFor(long)]).toEqual(['INVALID_ARGUMENT', 2]);
    expect(long.message).toMatch(/catalog directory path is too long/);
    const file = join(dir, 'not-a-dir');
    await writeFile(file, '');
    const notDir = await failure(loadCatalog(join(file, 'x')));
    expect([notDir.code, notDir.message]).toEqual([
      'NOT_FOUND',
      expect.stringMatching(/^catalog directory .* does not exist$/),
    ]);
  });

  it('a catalog CSV that is not a regular file is skipped, one too large is refused', async () => {
    const catalog = join(dir, 'catalog');
    await mkdir(join(catalog, 'aws'), { recursive: true });
    execFileSync('mkfifo', [join(catalog, 'aws', 'vms.csv')]);
    await writeFile(join(catalog, 'regions.csv'), `# ${'x'.repeat(65 * 1024 * 1024)}`);
    const error = await failure(loadCatalog(catalog));
    expect(error.message).toMatch(/^catalog file .*regions\.csv is larger than 64\.0 MiB/);
  });
});
