/**
 * `mcml cost import`: FOCUS files (CSV, gzipped CSV, Parquet) from a file, a folder or a
 * bucket prefix into the cost store. DuckDB's readers parse; this engine finds the files,
 * checks that they are FOCUS before touching the store, and imports a whole batch in one
 * transaction, so a corrupt file leaves the store as it was.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { McmlError } from '../../core/errors.js';
import { focusVersionOf, missingRequiredColumns } from '../../core/cost/focus.js';
import type { ObjectStore } from '../../ports/object-store.js';
import type { CostStore } from './store.js';
import { lit, projectionSql, readerSql, type FileColumn, type FileFormat } from './sql.js';
import { ImportFailure, describeFailure, locateBadRow } from './import-errors.js';

/** A file found for import: where the user named it, and where DuckDB reads it. */
export interface FocusFile {
  /** As the user would name it: a path or an s3:// gs:// az:// URI. */
  source: string;
  /** Local path DuckDB reads (a downloaded copy for bucket objects). */
  path: string;
  format: FileFormat;
  gzip: boolean;
  size: number;
}

export type ImportEvent =
  | { type: 'found'; files: number; bytes: number }
  | { type: 'downloading'; source: string }
  | { type: 'file-start'; source: string; index: number; files: number }
  | { type: 'progress'; source: string; percentage: number }
  | { type: 'file-done'; source: string; rows: number };

export interface ImportOptions {
  store: CostStore;
  /** Files, folders or bucket prefixes. */
  sources: string[];
  /** Relative paths resolve against this directory. */
  baseDir: string;
  /** Opens a bucket prefix (s3://, gs://, az://) through the storage adapters. */
  openStore: (uri: string) => Promise<ObjectStore>;
  /** Where bucket objects are downloaded to while they are imported. */
  tmpDir: string;
  onEvent?: (event: ImportEvent) => void;
  /** The instant recorded as the import time. */
  now: () => Date;
}

export interface ImportedFile {
  source: string;
  rows: number;
  focusVersion: string;
  /** BilledCost per cloud and currency in this file. */
  billed: { cloud: string; currency: string; billed: number }[];
  /** Provider columns kept beside FOCUS's own (`x_…`). */
  extensionColumns: string[];
}

export interface ImportReport {
  files: ImportedFile[];
  rows: number;
  /** Rows of earlier imports this one replaced. */
  replaced: number;
  durationMs: number;
}

const FOCUS_FILE = /\.(csv|csv\.gz|csv\.gzip|parquet|snappy\.parquet|gz\.parquet)$/i;

function formatOf(name: string): { format: FileFormat; gzip: boolean } | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.parquet')) return { format: 'parquet', gzip: false };
  if (lower.endsWith('.csv')) return { format: 'csv', gzip: false };
  if (lower.endsWith('.csv.gz') || lower.endsWith('.csv.gzip'))
    return { format: 'csv', gzip: true };
  return undefined;
}

/** Files under a local path (the path itself when it is a file), sorted. */
async function localFiles(path: string, shown: string): Promise<FocusFile[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new McmlError('NOT_FOUND', `${shown} does not exist`, {
      hint: 'pass a FOCUS file (.csv, .csv.gz, .parquet), a folder of them, or an s3:// gs:// az:// prefix',
    });
  }
  if (info.isFile()) {
    const kind = formatOf(path);
    if (!kind) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `${shown}: not a FOCUS file type (${extname(path) || 'no extension'})`,
        { hint: 'FOCUS exports are .csv, .csv.gz or .parquet files' },
      );
    }
    return [{ source: shown, path, ...kind, size: info.size }];
  }
  const out: FocusFile[] = [];
  const entries = await readdir(path, { withFileTypes: true, recursive: true });
  for (const e of entries) {
    if (!e.isFile() || !FOCUS_FILE.test(e.name)) continue;
    const full = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const kind = formatOf(e.name)!;
    out.push({ source: full, path: full, ...kind, size: (await stat(full)).size });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Objects under a bucket prefix, downloaded to tmpDir. */
async function bucketFiles(
  uri: string,
  options: ImportOptions,
  onEvent: (e: ImportEvent) => void,
): Promise<FocusFile[]> {
  const store = await options.openStore(uri);
  const out: FocusFile[] = [];
  await mkdir(options.tmpDir, { recursive: true });
  for await (const page of store.list()) {
    for (const object of page) {
      const kind = formatOf(object.key);
      if (!kind) continue;
      const source = store.uri.replace(/\/?$/, '/') + object.key;
      onEvent({ type: 'downloading', source });
      const path = join(options.tmpDir, `${out.length}-${basename(object.key)}`);
      await pipeline(await store.read(object.key), createWriteStream(path));
      out.push({ source, path, ...kind, size: object.size });
    }
  }
  return out;
}

/** Finds every FOCUS file the sources name. */
export async function findFocusFiles(
  options: ImportOptions,
  onEvent: (e: ImportEvent) => void,
): Promise<FocusFile[]> {
  const files: FocusFile[] = [];
  for (const source of options.sources) {
    if (
      /^(s3|gs|az):\/\//.test(source) ||
      /^https:\/\/[^/]+\.blob\.core\.windows\.net\//.test(source)
    ) {
      files.push(...(await bucketFiles(source, options, onEvent)));
    } else {
      const path = resolve(options.baseDir, source.replace(/^file:\/\//, ''));
      files.push(...(await localFiles(path, source)));
    }
  }
  if (files.length === 0) {
    throw new McmlError(
      'NOT_FOUND',
      `no FOCUS files (.csv, .csv.gz, .parquet) in ${options.sources.join(', ')}`,
    );
  }
  return files;
}

/** A gzip file must decompress to its end: DuckDB stops quietly at a truncated one. */
async function checkGzip(file: FocusFile): Promise<void> {
  try {
    await pipeline(
      createReadStream(file.path),
      createGunzip(),
      new Writable({ write: (_chunk, _enc, done) => done() }),
    );
  } catch (error) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `${file.source}: the gzip data is corrupt or truncated (${(error as Error).message}); nothing was imported`,
      { hint: 'download the export again' },
    );
  }
}

/** The file's columns as DuckDB reads them (CSV: names only, typed by csvTypes). */
async function describe(store: CostStore, file: FocusFile): Promise<FileColumn[]> {
  const reader =
    file.format === 'parquet'
      ? `read_parquet(${lit(file.path)})`
      : `read_csv(${lit(file.path)}, header = true, all_varchar = true)`;
  try {
    const rows = await store.query<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM ${reader}`,
    );
    return rows.map((r) => ({
      name: r.column_name,
      type: file.format === 'csv' ? 'VARCHAR' : r.column_type,
    }));
  } catch (error) {
    throw describeFailure(file.source, error);
  }
}

/** Checks the header of every file before anything is imported. */
async function checkFiles(
  store: CostStore,
  files: FocusFile[],
): Promise<Map<FocusFile, FileColumn[]>> {
  const columns = new Map<FocusFile, FileColumn[]>();
  for (const file of files) {
    if (file.gzip) await checkGzip(file);
    const cols = await describe(store, file);
    const missing = missingRequiredColumns(cols.map((c) => c.name));
    if (missing.length > 0) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `${file.source} is not a FOCUS cost-and-usage file: missing column${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`,
        {
          details: { missing },
          hint: 'export FOCUS 1.0–1.3 data (AWS Data Exports "FOCUS 1.0 with AWS columns", Google Cloud FOCUS export, Azure FocusCost)',
        },
      );
    }
    columns.set(file, cols);
  }
  return columns;
}

/** Imports one file's rows (inside the batch transaction) while reporting progress. */
async function importFile(
  store: CostStore,
  file: FocusFile,
  columns: FileColumn[],
  importId: number,
  onEvent: (e: ImportEvent) => void,
): Promise<number> {
  const sql = `INSERT INTO charges SELECT\n  ${projectionSql(columns, importId)}\nFROM ${readerSql(
    file.path,
    file.format,
    columns.map((c) => c.name),
  )}`;
  const timer = setInterval(() => {
    const p = store.connection.progress;
    if (p.percentage >= 0)
      onEvent({ type: 'progress', source: file.source, percentage: p.percentage });
  }, 250);
  try {
    const reader = await store.connection.runAndReadAll(sql);
    const [row] = reader.getRowObjectsJson() as { Count?: string | number }[];
    return Number(row?.Count ?? 0);
  } catch (error) {
    throw new ImportFailure(file, columns, error);
  } finally {
    clearInterval(timer);
  }
}

/** Rolls the import up by day and summarises it from the rollup. */
async function summarise(
  store: CostStore,
  file: FocusFile,
  columns: FileColumn[],
  importId: number,
  rows: number,
): Promise<ImportedFile> {
  await store.rollUp(importId);
  return {
    source: file.source,
    rows,
    focusVersion: focusVersionOf(columns.map((c) => c.name)),
    billed: await store.importTotals(importId),
    extensionColumns: columns.filter((c) => c.name.startsWith('x_')).map((c) => c.name),
  };
}

/**
 * Imports FOCUS files into the store in one transaction: every file lands, or none does.
 * Rows of earlier imports of the same files, or of the same billing accounts and billing
 * periods, are replaced.
 * @throws McmlError INVALID_ARGUMENT (not FOCUS, corrupt: with file and row), NOT_FOUND.
 */
export async function importFocusFiles(options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const onEvent = options.onEvent ?? (() => undefined);
  const { store } = options;
  try {
    const files = await findFocusFiles(options, onEvent);
    onEvent({ type: 'found', files: files.length, bytes: files.reduce((a, f) => a + f.size, 0) });
    const columns = await checkFiles(store, files);
    const { imported, replaced } = await store
      .transaction(async () => {
        const imported: ImportedFile[] = [];
        const ids: number[] = [];
        for (const [index, file] of files.entries()) {
          onEvent({ type: 'file-start', source: file.source, index, files: files.length });
          const cols = columns.get(file)!;
          const importId = await store.nextImportId();
          const rows = await importFile(store, file, cols, importId, onEvent);
          const summary = await summarise(store, file, cols, importId, rows);
          await store.recordImport(
            {
              importId,
              origin: 'export',
              source: file.source,
              focusVersion: summary.focusVersion,
              rows,
            },
            options.now(),
          );
          ids.push(importId);
          imported.push(summary);
          onEvent({ type: 'file-done', source: file.source, rows });
        }
        const replaced = await store.replaceCovered(
          ids,
          files.map((f) => f.source),
        );
        return { imported, replaced };
      })
      .catch(async (error: unknown) => {
        if (error instanceof ImportFailure)
          throw await locateBadRow(store, error.file, error.columns, error.cause);
        throw error;
      });
    return {
      files: imported,
      rows: imported.reduce((a, f) => a + f.rows, 0),
      replaced,
      durationMs: performance.now() - started,
    };
  } finally {
    await rm(options.tmpDir, { recursive: true, force: true });
  }
}
