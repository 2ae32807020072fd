/**
 * npm run build: src/ → dist/ with esbuild. Every source file stays its own module at its own
 * path (dist/cli/main.js, the serve worker, the files that find data/ and terraform/ from
 * import.meta.url), while the packages on the start-up path are bundled instead of hundreds of
 * files Node resolves, reads and (for CommonJS) scans one by one: the S3, Azure Blob and
 * Kubernetes clients, commander, yaml, zod and picomatch as code-cached CommonJS bundles in dist/vendor/
 * (build-vendor.ts), the rest (BUNDLED) into ESM chunks in dist/chunks/. A cloud SDK loads
 * only with the adapter that imports it (storage.ts imports the adapters with import()), so a
 * local → S3 sync never reads Azure's or Google's code. Packages that read their own files at
 * run time or load native code stay in node_modules.
 *
 * dist/bundled-packages.json names the packages inside each chunk and vendored bundle (tests
 * check which SDKs a command loads with it). Type checking is `npm run typecheck`; the dashboard's browser code
 * (src/apps/dashboard/web) is transpiled file by file, its imports left to the page.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { buildVendored, importedNames, vendoredImports } from './build-vendor.js';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Packages bundled into chunks, with everything they import (the vendored ones aside). */
const BUNDLED = /^cli-progress(\/|$)/;
/** Never bundled, even when a bundled package imports them (native code, own files). */
const EXTERNAL = /^(@azure\/identity|@azure\/msal-|onnxruntime-node|@duckdb\/)/;
/** The chunks of CommonJS code call require() for Node's modules: give them one. */
const REQUIRE_SHIM =
  'import { createRequire as __mcmlCreateRequire } from "node:module"; const require = __mcmlCreateRequire(import.meta.url);';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds dist/ from src/ (removing what was there). Returns the output file count. */
export async function buildDist(root = repo): Promise<number> {
  const src = join(root, 'src');
  const out = join(root, 'dist');
  const sources = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
  const web = join(src, 'apps', 'dashboard', 'web') + '/';
  rmSync(out, { recursive: true, force: true });
  const vendored = importedNames(sources);
  const node = await build({
    entryPoints: sources.filter((f) => !f.startsWith(web)),
    outdir: out,
    outbase: src,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The packages' ES module builds: no CommonJS wrappers, unused exports dropped.
    mainFields: ['module', 'main'],
    // Less to read and parse at every start; names are kept (stack traces), maps point home.
    minifyWhitespace: true,
    minifySyntax: true,
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [vendoredImports(src, vendored), ownModulesStayFiles(src), englishZod()],
  });
  for (const file of node.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    // The chunk that defines esbuild's require shim (it reads `require` from its own scope).
    const needsRequire = file.path.endsWith('.js') && file.text.includes('Dynamic require of');
    writeFileSync(file.path, needsRequire ? REQUIRE_SHIM + file.text : file.text);
  }
  const browser = await build({
    entryPoints: sources.filter((f) => f.startsWith(web)),
    outdir: join(out, 'apps', 'dashboard', 'web'),
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  });
  if (browser.errors.length > 0) throw new Error('browser build failed');
  const vendorMeta = await buildVendored(vendored, out, EXTERNAL, [englishZod()]);
  writeFileSync(
    join(out, 'bundled-packages.json'),
    JSON.stringify(
      { ...bundledPackages(node.metafile, root), ...bundledPackages(vendorMeta, root) },
      null,
      1,
    ) + '\n',
  );
  return node.outputFiles.length;
}

/**
 * Relative imports between our own files stay imports (each file is an entry point at its own
 * path); bare imports from our files are bundled only when listed in BUNDLED.
 */
function ownModulesStayFiles(src: string): Plugin {
  return {
    name: 'own-modules-stay-files',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const external = { path: args.path, external: true };
        if (args.path.startsWith('node:') || EXTERNAL.test(args.path)) return external;
        if (!args.importer.startsWith(src + '/')) return undefined;
        if (args.path.startsWith('./') || args.path.startsWith('../')) return external;
        return BUNDLED.test(args.path) ? undefined : external;
      });
    },
  };
}

/**
 * zod's `locales` namespace re-exports the error messages of ~50 languages (a third of its
 * code), which no tree shaking can drop from a namespace; mcml speaks English (`en` is zod's
 * default), so only that one is bundled.
 */
function englishZod(): Plugin {
  return {
    name: 'english-zod',
    setup(b) {
      b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
        contents: 'export { default as en } from "./en.js";\n',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/** For each output file with packages in it: the names of the packages bundled into it. */
function bundledPackages(meta: Metafile, root: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [file, output] of Object.entries(meta.outputs)) {
    if (!/\.c?js$/.test(file)) continue;
    const names = new Set<string>();
    for (const input of Object.keys(output.inputs)) {
      const at = input.lastIndexOf('node_modules/');
      if (at < 0) continue;
      const [scope, name] = input.slice(at + 'node_modules/'.length).split('/');
      names.add(scope!.startsWith('@') ? `${scope}/${name}` : scope!);
    }
    if (names.size > 0) out[relative(join(root, 'dist'), join(root, file))] = [...names].sort();
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const files = await buildDist();
  process.stderr.write(`dist/: ${files} files in ${Date.now() - started} ms\n`);
}
