/**
 * Reads the price catalog from disk. The catalog ships in the npm package (`data/catalog/`)
 * and is found relative to this file, not the working directory; `--catalog DIR` or
 * MCML_CATALOG_DIR point at another one.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McmlError } from '../core/errors.js';
import { parseCatalog, type Catalog, type CatalogFile } from '../core/catalog/index.js';

/** The catalog shipped with mcml: `<package>/data/catalog` (from dist/cli/ or src/cli/). */
export function defaultCatalogDir(): string {
  return fileURLToPath(new URL('../../data/catalog/', import.meta.url));
}

/** The catalog directory to use: the argument, MCML_CATALOG_DIR, or the shipped one. */
export function catalogDir(dir?: string): string {
  return dir ?? process.env.MCML_CATALOG_DIR ?? defaultCatalogDir();
}

async function csvFiles(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await csvFiles(root, full, out);
    else if (e.isFile() && e.name.endsWith('.csv')) out.push(relative(root, full));
  }
}

/**
 * Loads and validates the catalog.
 * @throws McmlError NOT_FOUND (no such directory) or CATALOG_INVALID (bad rows, by file:line:column).
 */
export async function loadCatalog(dir?: string): Promise<Catalog> {
  const root = catalogDir(dir);
  try {
    const info = await stat(root);
    if (!info.isDirectory()) {
      throw new McmlError('CATALOG_INVALID', `catalog ${root} is not a directory`);
    }
  } catch (error) {
    if (error instanceof McmlError) throw error;
    throw new McmlError('NOT_FOUND', `catalog directory ${root} does not exist`, {
      hint: 'pass --catalog DIR, or reinstall mcml (the catalog ships in data/catalog)',
      cause: error,
    });
  }
  const paths: string[] = [];
  await csvFiles(root, root, paths);
  const files: CatalogFile[] = await Promise.all(
    paths.map(async (p) => ({
      path: p.split(sep).join('/'),
      text: await readFile(join(root, p), 'utf8'),
    })),
  );
  const shown = relative(process.cwd(), root) || '.';
  return parseCatalog(files, {
    dir: (shown.startsWith('..') ? root : shown).replace(/\/?$/, '/'),
    // Offerings retiring on or before today count as retired.
    today: new Date().toISOString().slice(0, 10),
  });
}
