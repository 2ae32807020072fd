/**
 * The vendored packages of the build: those on the start-up path (the S3, Azure Blob and
 * Kubernetes clients, commander, yaml, zod, picomatch) become one CommonJS bundle each in
 * dist/vendor/, holding only the bindings mcml's sources import from
 * them, and run through src/adapters/vendor.ts, which keeps V8's compiled code between runs
 * (Node 20 keeps none for ES modules, and compiling an SDK is most of a short command's
 * start-up). In dist/, an import of such a package from mcml's sources becomes a small module
 * that takes each binding from the loaded bundle.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Bundle name → the packages in it (packages that share code share a bundle). */
export const VENDORED: Record<string, string[]> = {
  commander: ['commander'],
  yaml: ['yaml'],
  zod: ['zod'],
  picomatch: ['picomatch'],
  'aws-s3': ['@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner'],
  'azure-storage-blob': ['@azure/storage-blob'],
  // KubeConfig's own module (src/adapters/kubernetes/kubeconfig.ts says why).
  'kubernetes-client': ['@kubernetes/client-node/dist/config.js'],
};

/** The bundle a package is vendored in, if it is. */
export function vendorOf(pkg: string): string | undefined {
  return Object.keys(VENDORED).find((name) => VENDORED[name]!.includes(pkg));
}

/** Per vendored package, the value bindings mcml's sources import from it. */
export type ImportedNames = Map<string, string[]>;

/**
 * The value bindings `sources` import or re-export by name from each vendored package
 * (type-only ones left out), each file read once. A namespace or dynamic import would need
 * the whole package, so it fails the build.
 */
export function importedNames(sources: string[]): ImportedNames {
  const packages = Object.values(VENDORED).flat();
  const names = new Map(packages.map((pkg) => [pkg, new Set<string>()]));
  const texts = sources.map((file) => ({
    file,
    // Comments dropped (they may quote an import).
    text: readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, ''),
  }));
  for (const pkg of packages) {
    const quoted = `['"]${pkg.replace(/[/\\-]/g, '\\$&')}['"]`;
    // import X from, import { a, b as c } from, import X, { a } from, export { a } from.
    const named = new RegExp(
      `(?:import|export)\\s+(type\\s+)?(?:(\\w+)\\s*,?\\s*)?(?:\\{([^}]*)\\})?\\s*from\\s*${quoted}`,
      'g',
    );
    const whole = new RegExp(`import\\s*\\(\\s*${quoted}|\\*\\s*as\\s+\\w+\\s+from\\s*${quoted}`);
    const found = names.get(pkg)!;
    for (const { file, text } of texts) {
      const bad = whole.exec(text.replace(/import\s+type\s+\*[^;]*;/g, ''));
      if (bad) {
        throw new Error(`${file}: "${bad[0]}" takes all of ${pkg}; import the bindings by name`);
      }
      for (const m of text.matchAll(named)) {
        if (m[1]) continue; // import type { … }
        if (m[2]) found.add('default');
        for (const part of (m[3] ?? '').split(',')) {
          const name = part.trim().split(/\s+as\s+/)[0]!;
          if (name !== '' && !name.startsWith('type ')) found.add(name);
        }
      }
    }
  }
  return new Map([...names].map(([pkg, set]) => [pkg, [...set].sort()]));
}

/** Builds dist/vendor/NAME.cjs for every vendored bundle; returns their metafile. */
export async function buildVendored(
  names: ImportedNames,
  out: string,
  external: RegExp,
  plugins: Plugin[] = [],
): Promise<Metafile> {
  const outputs: Metafile = { inputs: {}, outputs: {} };
  for (const [name, packages] of Object.entries(VENDORED)) {
    const entry = packages
      .map((pkg) => `export { ${names.get(pkg)!.join(', ')} } from '${pkg}';`)
      .join('\n');
    const result = await build({
      stdin: { contents: entry, resolveDir: join(out, '..'), sourcefile: `${name}.js` },
      outfile: join(out, 'vendor', `${name}.cjs`),
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      mainFields: ['module', 'main'],
      minifyWhitespace: true,
      minifySyntax: true,
      // CommonJS has no import.meta: the SDKs' createRequire(import.meta.url) gets the file.
      define: { 'import.meta.url': '__mcmlImportMetaUrl' },
      banner: { js: BANNER },
      write: false,
      plugins: [
        {
          name: 'external',
          setup: (b) =>
            b.onResolve({ filter: external }, (a) => ({ path: a.path, external: true })),
        },
        ...plugins,
      ],
      metafile: true,
      logLevel: 'warning',
    });
    for (const file of result.outputFiles) {
      mkdirSync(dirname(file.path), { recursive: true });
      writeFileSync(file.path, requireNodeModules(file.text, name));
      checkExports(
        file.path,
        packages.flatMap((pkg) => names.get(pkg)!),
      );
    }
    Object.assign(outputs.outputs, result.metafile.outputs);
  }
  return outputs;
}

/** Fails the build when a binding the sources import is not in the bundle (a typo, a rename). */
function checkExports(file: string, names: string[]): void {
  const exports = createRequire(import.meta.url)(file) as Record<string, unknown>;
  const missing = names.filter((n) => exports[n] === undefined);
  if (missing.length > 0) throw new Error(`${file} has no ${missing.join(', ')}`);
}

/**
 * What the bundles start with: import.meta.url, and a stand-in for import() of Node's own
 * modules (a script run from V8's code cache has no import() in Node 20: the callback that
 * serves it is lost when the cache is read).
 */
const BANNER = [
  'const __mcmlImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
  'const __mcmlImportNode = (s) => Promise.resolve().then(() => { const m = require(s); return { ...m, default: m }; });',
].join('\n');

/** The bundle with `import("node:…")` served by require(); any other import() fails the build. */
function requireNodeModules(text: string, name: string): string {
  const out = text.replace(/\bimport\((?=["']node:)/g, '__mcmlImportNode(');
  const left = /\bimport\(\s*[^)]{0,40}/.exec(out);
  if (left) throw new Error(`vendor/${name}.cjs still has ${left[0]}: vendor that package no more`);
  return out;
}

/**
 * In dist/, an import of a vendored package from mcml's sources becomes a module that loads
 * the bundle (src/adapters/vendor.ts) and hands out the bindings the sources import.
 */
export function vendoredImports(src: string, names: ImportedNames): Plugin {
  const filter = new RegExp(
    `^(${Object.values(VENDORED)
      .flat()
      .map((p) => p.replace(/[/\\-]/g, '\\$&'))
      .join('|')})$`,
  );
  return {
    name: 'vendored-imports',
    setup(b) {
      b.onResolve({ filter }, (args) =>
        args.importer.startsWith(src + '/')
          ? { path: args.path, namespace: 'mcml-vendor' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'mcml-vendor' }, (args) => {
        const loader = JSON.stringify(join(src, 'adapters', 'vendor.ts'));
        const lines = [
          `import { loadVendor } from ${loader};`,
          `const m = loadVendor(${JSON.stringify(vendorOf(args.path))});`,
          ...names
            .get(args.path)!
            .map((n) =>
              n === 'default' ? 'export default m.default;' : `export const ${n} = m.${n};`,
            ),
        ];
        return { contents: lines.join('\n') + '\n', resolveDir: src, loader: 'js' };
      });
    },
  };
}
