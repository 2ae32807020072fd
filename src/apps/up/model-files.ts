/**
 * The files a model is made of, for `mcml up` to copy into every bucket: the .onnx file and the
 * external data files it names (the weights of a model saved with them, which `mcml serve`
 * fetches from beside it). A model in a local folder is scanned in place; one in a store is
 * downloaded to a temp file and scanned when it is small enough to be such a model's graph
 * (a larger one keeps its weights inline).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { isMcmlError } from '../../core/errors.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { externalDataFiles } from '../serve/onnx-external.js';

/** Larger models in a store are taken to keep their weights inline (not scanned). */
const SCAN_MAX_BYTES = 256 * 1024 * 1024;

/** The keys to copy from the model's folder: the model file, then its external data files. */
export async function modelFiles(model: { source: ObjectStore; file: string }): Promise<string[]> {
  const local = await localCopy(model);
  if (!local) return [model.file];
  try {
    const files = await externalDataFiles(local.path);
    return [model.file, ...files.map((f) => f.location)];
  } catch (error) {
    // Not a model the scan reads: the replicas' onnxruntime says what is wrong with it.
    if (isMcmlError(error) && error.details.notOnnx === true) return [model.file];
    throw error;
  } finally {
    await local.done();
  }
}

/** The model as a local file: in place, or a temp copy of a small one from a store. */
async function localCopy(model: {
  source: ObjectStore;
  file: string;
}): Promise<{ path: string; done: () => Promise<void> } | undefined> {
  const { source, file } = model;
  if (source.uri.startsWith('file:')) {
    return { path: join(fileURLToPath(source.uri), file), done: () => Promise.resolve() };
  }
  const info = await source.stat(file);
  if (!info || info.size > SCAN_MAX_BYTES) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mcml-model-'));
  const done = () => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, 'model.onnx');
    await pipeline(await source.read(file), createWriteStream(path));
    return { path, done };
  } catch (error) {
    await done();
    throw error;
  }
}

/** A key as an include glob that matches it alone. */
export function literalGlob(key: string): string {
  return key.replace(/[\\*?[\]{}()!+@|]/g, '\\$&');
}
