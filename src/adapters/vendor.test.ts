import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCodeCacheDir, loadCommonJs } from './vendor.js';

let dir: string;
let file: string;
let copies = 0;
// Enough functions for V8 to have code worth caching; require() and __dirname work inside.
const fns = Array.from({ length: 50 }, (_, i) => `exports.f${i} = (x) => x * ${i} + ${i};`);
const LIB = `const { join } = require('node:path');\nexports.where = join(__dirname, 'x');\n${fns.join('\n')}\n`;

/**
 * The library again at a new path: V8 keeps scripts it compiled in memory by source and file,
 * and a copy elsewhere makes it compile again (from the cache on disk, which is by content).
 */
async function copy(source = LIB): Promise<string> {
  const at = join(dir, `copy-${++copies}`);
  await mkdir(at);
  await writeFile(join(at, 'lib.cjs'), source);
  return join(at, 'lib.cjs');
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-vendor-'));
  file = await copy();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('loadCommonJs', () => {
  it('writes V8 code on the first run and compiles from it on the next', async () => {
    const cache = join(dir, 'cache');
    const first = loadCommonJs(file, cache, { writeCacheNow: true });
    expect(first.exports.where).toBe(join(dir, 'copy-1', 'x'));
    expect((first.exports.f3 as (x: number) => number)(2)).toBe(9);
    expect(first.cache).toMatchObject({ used: false, writing: true });
    expect(await readdir(cache)).toEqual([expect.stringMatching(/^lib-[0-9a-f]{20}\.v8$/)]);

    const again = await copy();
    const second = loadCommonJs(again, cache, { writeCacheNow: true });
    expect(second.cache).toMatchObject({ used: true, writing: false });
    expect((second.exports.f3 as (x: number) => number)(2)).toBe(9);
    expect(createRequire(again).cache[again]?.exports).toBe(second.exports);
  });

  it('rewrites a cache V8 refuses, and a new source gets a cache of its own', async () => {
    const cache = join(dir, 'cache');
    loadCommonJs(file, cache, { writeCacheNow: true });
    const [name] = await readdir(cache);
    await writeFile(join(cache, name!), 'not V8 code');
    const refused = loadCommonJs(await copy(), cache, { writeCacheNow: true });
    expect(refused.cache).toMatchObject({ used: false, writing: true });
    expect(loadCommonJs(await copy(), cache).cache?.used).toBe(true);

    const changed = await copy('exports.v = 2;\n');
    expect(loadCommonJs(changed, cache, { writeCacheNow: true }).exports.v).toBe(2);
    expect(await readdir(cache)).toHaveLength(2);
  });

  it('runs without a cache where none can be written', async () => {
    const blocked = join(dir, 'a-file');
    await writeFile(blocked, '');
    const r = loadCommonJs(file, join(blocked, 'cache'), { writeCacheNow: true });
    expect((r.exports.f1 as (x: number) => number)(1)).toBe(2);
    expect(loadCommonJs(file, undefined).cache).toBeUndefined();
  });

  it('keeps its cache beside the other caches', () => {
    expect(defaultCodeCacheDir({ MCML_CODE_CACHE_DIR: '/c' })).toBe('/c');
    expect(defaultCodeCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/mcml/code');
    expect(defaultCodeCacheDir({ HOME: '/h' })).toBe('/h/.cache/mcml/code');
  });
});
