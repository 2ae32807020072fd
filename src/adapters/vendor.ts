/**
 * Loads a vendored bundle (dist/vendor/NAME.cjs, made by scripts/build-vendor.ts) with V8's code
 * cache. Compiling an SDK is most of a short command's start-up — ~0.8 MB of JavaScript for
 * Azure Blob, ~0.7 MB for S3 — and Node 20 keeps no compiled code between runs for ES modules.
 * A script compiled through `vm.Script` can be given the code V8 produced for it last time, so
 * the first run of a version writes that code and later runs skip most of the compiling.
 *
 * The cache lives beside mcml's other caches (MCML_CODE_CACHE_DIR, else
 * $XDG_CACHE_HOME/mcml/code), one file per bundle named by a hash of its source and V8's cache
 * tag (which changes with the V8 version and flags), written once, atomically. A cache V8
 * rejects is rewritten; a directory that cannot be written is simply not used.
 *
 * Only the build uses this: the sources (and tests on them) import the SDKs as usual.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedDataVersionTag } from 'node:v8';
import { Script } from 'node:vm';
// Written from dist/'s level below the root: the build bundles this file into dist/chunks/ as
// well as dist/adapters/, and this path finds cache-dir.js from both.
import { mcmlCacheDir } from '../adapters/cache-dir.js';

type Env = Record<string, string | undefined>;

/** Where compiled code is kept: MCML_CODE_CACHE_DIR, else $XDG_CACHE_HOME/mcml/code. */
export function defaultCodeCacheDir(env: Env): string {
  return mcmlCacheDir(env, 'MCML_CODE_CACHE_DIR', 'code');
}

/** What loadCommonJs did with the code cache (for tests). */
export interface CodeCacheUse {
  file: string;
  /** The cache was there and V8 took it. */
  used: boolean;
  /** A cache is written when the process exits (none was there, or V8 refused it). */
  writing: boolean;
}

/**
 * Runs a CommonJS file and returns its exports, compiling it with the code cache in
 * `cacheDir` (undefined: no cache).
 */
export function loadCommonJs(
  file: string,
  cacheDir: string | undefined,
  options: { writeCacheNow?: boolean } = {},
): { exports: Record<string, unknown>; cache: CodeCacheUse | undefined } {
  const source = readFileSync(file, 'utf8');
  const cacheFile = cacheDir ? join(cacheDir, cacheName(file, source)) : undefined;
  const cachedData = cacheFile ? readIfThere(cacheFile) : undefined;
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new Script(wrapped, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  // A module of Node's own kind, in require.cache as the CommonJS loader would leave it.
  const module = new Module(file);
  module.filename = file;
  const require = createRequire(file);
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, require, module, file, dirname(file));
  module.loaded = true;
  require.cache[file] = module;
  const exports = module.exports as Record<string, unknown>; // as the script left it
  if (!cacheFile) return { exports, cache: undefined };
  const used = cachedData !== undefined && !script.cachedDataRejected;
  // Written at exit, so it holds the functions this run compiled, not only the top level.
  const write = () => writeAtomically(cacheFile, () => script.createCachedData());
  if (!used) {
    if (options.writeCacheNow) write();
    else process.once('exit', write);
  }
  return { exports, cache: { file: cacheFile, used, writing: !used } };
}

/**
 * The vendored bundle `name` of this build (dist/vendor/NAME.cjs). The build bundles this
 * function into dist/chunks/ as well as dist/adapters/: both sit one level below dist/.
 */
export function loadVendor(name: string): Record<string, unknown> {
  // Once per process, whichever copy of this function asks (a chunk may hold its own).
  const loaded = ((globalThis as { [LOADED]?: Map<string, Record<string, unknown>> })[LOADED] ??=
    new Map());
  let exports = loaded.get(name);
  if (!exports) {
    const file = fileURLToPath(new URL(`../vendor/${name}.cjs`, import.meta.url));
    const env = process.env;
    exports = loadCommonJs(
      file,
      env.MCML_CODE_CACHE === 'off' ? undefined : defaultCodeCacheDir(env),
    ).exports;
    loaded.set(name, exports);
  }
  return exports;
}

const LOADED = Symbol.for('mcml.vendor.loaded');

function cacheName(file: string, source: string): string {
  const hash = createHash('sha256').update(source).update(String(cachedDataVersionTag()));
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.c?js$/, '');
  return `${base}-${hash.digest('hex').slice(0, 20)}.v8`;
}

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Best effort: a cache that cannot be written costs the next run its compile time, no more. */
function writeAtomically(file: string, data: () => Buffer): void {
  try {
    // The user's alone: V8 runs what the cache holds.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data());
    renameSync(tmp, file);
  } catch {
    // read-only or full disk: run without the cache
  }
}
