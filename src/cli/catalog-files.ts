/**
 * Reads the price catalog from disk. The catalog ships in the npm package (`data/catalog/`)
 * and is found relative to this file, not the working directory; `--catalog DIR` or
 * MCML_CATALOG_DIR point at another one.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McmlError } from '../core/errors.js';
import { parseCatalog, type Catalog, type CatalogFile } from '../core/catalog/index.js';
import { fileError, readInputFile, shownPath } from './input-file.js';

/** Largest catalog mcml reads, all CSV files together (the shipped one is 50 KiB). */
export const MAX_CATALOG_BYTES = 64 * 1024 * 1024;
/** Most CSV files one catalog directory holds. */
export const MAX_CATALOG_FILES = 200;

/** The catalog shipped with mcml: `<package>/data/catalog` (from dist/cli/ or src/cli/). */
export function defaultCatalogDir(): string {
  return fileURLToPath(new URL('../../data/catalog/', import.meta.url));
}

/** The catalog directory to use: the argument, MCML_CATALOG_DIR, or the shipped one. */
export function catalogDir(dir?: string): string {
  return dir ?? process.env.MCML_CATALOG_DIR ?? defaultCatalogDir();
}

async function csvFiles(root: string, dir: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw fileError(error, dir, { what: 'catalog directory', maxBytes: 0 });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await csvFiles(root, full, out);
    else if (e.isFile() && e.name.endsWith('.csv')) out.push(relative(root, full));
    if (out.length > MAX_CATALOG_FILES) {
      throw new McmlError(
        'CATALOG_INVALID',
        `catalog ${shownPath(root)} holds more than ${MAX_CATALOG_FILES} CSV files`,
        { hint: 'pass the catalog directory itself (the one with regions.csv), not a parent' },
      );
    }
  }
}

/** The catalog directory, checked: it exists and is a directory. */
async function checkCatalogDir(root: string): Promise<void> {
  let info;
  try {
    info = await stat(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new McmlError('NOT_FOUND', `catalog directory ${shownPath(root)} does not exist`, {
        hint: 'pass --catalog DIR, or reinstall mcml (the catalog ships in data/catalog)',
      });
    }
    throw fileError(error, root, { what: 'catalog directory', maxBytes: 0 });
  }
  if (!info.isDirectory()) {
    throw new McmlError('CATALOG_INVALID', `catalog ${shownPath(root)} is not a directory`, {
      hint: 'pass the directory that holds regions.csv, egress.csv and <cloud>/*.csv',
    });
  }
}

/**
 * Loads and validates the catalog.
 * @throws McmlError NOT_FOUND (no such directory) or CATALOG_INVALID (bad rows, by file:line:column).
 */
export async function loadCatalog(dir?: string): Promise<Catalog> {
  const root = catalogDir(dir);
  await checkCatalogDir(root);
  const paths: string[] = [];
  await csvFiles(root, root, paths);
  const files: CatalogFile[] = [];
  let budget = MAX_CATALOG_BYTES;
  for (const p of paths) {
    const text = await readInputFile(join(root, p), {
      what: 'catalog file',
      maxBytes: budget,
    });
    budget -= Buffer.byteLength(text);
    files.push({ path: p.split(sep).join('/'), text });
  }
  const shown = relative(process.cwd(), root) || '.';
  return parseCatalog(files, {
    dir: shownPath(shown.startsWith('..') ? root : shown).replace(/\/?$/, '/'),
    // Offerings retiring on or before today count as retired.
    today: new Date().toISOString().slice(0, 10),
  });
}
