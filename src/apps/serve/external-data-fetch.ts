/**
 * The external data files of a model fetched from an object store (s3://, gs://, az://): each
 * file the model names is fetched from beside the model in the store into the model's cache
 * entry, where onnxruntime looks for it. A file is fetched again when its version in the store
 * (sha256, else ETag, else size and time) differs from the one recorded when it was fetched, so
 * new weights under an unchanged .onnx file are never served stale.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { McmlError, isMcmlError } from '../../core/errors.js';
import { pool } from '../../core/pool.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { downloadToFile, type DownloadProgress } from './download.js';
import { modelSha256, type ModelHashOptions } from './model-hash.js';
import { externalDataFiles, type ExternalDataFile } from './onnx-external.js';

export interface ExternalFetchOptions {
  /** Where the sha256 of the files held is remembered across starts. */
  hashing?: ModelHashOptions;
  /** Ranged GETs in flight per large file (default 1). */
  downloadStreams?: number;
  /** Hears how far each file's download is. */
  onDownload?: (p: DownloadProgress) => void;
}

/** What was recorded of each file fetched: location → version in the store. */
type Manifest = Record<string, string>;
const MANIFEST = '.external-data.json';
/** External data files checked or fetched at once. */
const FILES_IN_FLIGHT = 8;

/** The version of an object, as the cache compares it. */
export function objectVersion(info: ObjectInfo): string {
  return info.sha256 ?? info.etag ?? `${info.size}-${info.lastModified?.getTime() ?? ''}`;
}

/**
 * Makes every external data file of the model at `modelPath` (downloaded from `root` in
 * `store`, named `name` and `uri` in messages) present and current beside it.
 * Returns the number of files fetched (0 when all were current).
 */
export async function fetchExternalData(
  model: { name: string; uri: string; root: string },
  store: ObjectStore,
  modelPath: string,
  options: ExternalFetchOptions = {},
): Promise<number> {
  let files: ExternalDataFile[];
  try {
    files = await externalDataFiles(modelPath);
  } catch (error) {
    // Not a model this scan can read: onnxruntime, which opens it next, says what is wrong.
    if (isMcmlError(error) && error.details.notOnnx === true) return 0;
    throw error;
  }
  if (files.length === 0) return 0;
  const dir = dirname(modelPath);
  for (const file of files) checkOwnFiles(model, file.location, basename(modelPath));
  const manifest = await readManifest(dir);
  let fetched = 0;
  // Recorded after each download, one write at a time: a kill loses at most what was in flight.
  let written = Promise.resolve();
  const record = () => (written = written.then(() => writeManifest(dir, { ...manifest })));
  try {
    // Models saved one file per tensor name hundreds: a few at a time, not one by one.
    await pool(files, FILES_IN_FLIGHT, async (file) => {
      const info = await storedFile(model, store, file);
      const version = objectVersion(info);
      const local = join(dir, ...file.location.split('/'));
      const held = manifest[file.location] === version;
      if (held && (await current(local, info, options.hashing ?? {}))) return;
      await download(model, store, info, local, options);
      manifest[file.location] = version;
      fetched++;
      await record();
    });
  } finally {
    await written;
  }
  return fetched;
}

/** The model's own file and the manifest are not weights: a model naming them is refused. */
function checkOwnFiles(model: { name: string }, location: string, modelFile: string): void {
  if (location === modelFile || location === MANIFEST) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `model "${model.name}" names ${JSON.stringify(location)} as an external data file`,
      { hint: 'external data files are the weights saved beside the .onnx file' },
    );
  }
}

/**
 * Whether the copy at `local` is the stored object: same size and, when the store knows it,
 * same sha256 (remembered across starts in the hash index while the file is unchanged).
 */
async function current(
  local: string,
  info: ObjectInfo,
  hashing: ModelHashOptions,
): Promise<boolean> {
  const held = await stat(local).catch(() => undefined);
  if (held?.size !== info.size) return false;
  if (info.sha256 === undefined) return true;
  return (await modelSha256(local, held, hashing)).sha256 === info.sha256;
}

/** The stored object behind one external file, checked to hold what the model reads of it. */
async function storedFile(
  model: { name: string; uri: string; root: string },
  store: ObjectStore,
  file: ExternalDataFile,
): Promise<ObjectInfo> {
  const where = `${model.root}${file.location}`;
  const info = await store.stat(file.location);
  if (!info) {
    throw new McmlError(
      'NOT_FOUND',
      `model "${model.name}": ${model.uri} keeps weights in ${where}, which does not exist`,
      { hint: 'upload the external data files beside the .onnx file, as the model was saved' },
    );
  }
  if (file.end !== undefined && info.size < file.end) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `model "${model.name}": ${where} holds ${info.size} bytes, but the model reads up to byte ${file.end}`,
      { hint: 'the weights file does not belong to this .onnx file: upload both from one export' },
    );
  }
  return info;
}

/** Downloads one file to `local`, checked against the store's size and sha256. */
async function download(
  model: { name: string; root: string },
  store: ObjectStore,
  info: ObjectInfo,
  local: string,
  options: ExternalFetchOptions,
): Promise<void> {
  const uri = `${model.root}${info.key}`;
  const check = (sha256: string, bytes: number) => {
    if ((info.sha256 !== undefined && info.sha256 !== sha256) || bytes !== info.size) {
      throw new McmlError(
        'INTEGRITY',
        `model "${model.name}": downloaded ${uri} (${bytes} bytes, sha256 ${sha256}) differs from what the store lists (${info.size} bytes${info.sha256 ? `, sha256 ${info.sha256}` : ''})`,
      );
    }
  };
  const progress = options.onDownload && { uri, report: options.onDownload };
  await downloadToFile(store, info, local, options.downloadStreams ?? 1, check, progress);
}

async function readManifest(dir: string): Promise<Manifest> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Manifest) : {};
  } catch {
    return {};
  }
}

/**
 * Temp file + rename: a reader sees the old manifest or the new one. It is never ahead of the
 * files: a version is recorded only once its file is in place.
 */
async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = join(dir, `${MANIFEST}.${randomUUID()}`);
  await writeFile(tmp, JSON.stringify(manifest));
  await rename(tmp, join(dir, MANIFEST));
}
