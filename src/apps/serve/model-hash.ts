/**
 * The sha256 of a model file `mcml serve` is about to load, remembered across starts: a restart
 * with a multi-GB model stats the file instead of reading every byte again (about 1 s per GiB
 * on one core). The record lives in a hash index in the cache directory (see
 * adapters/local/hash-index.ts), keyed by the file's stamp — device, inode, size, mtime and
 * ctime — so any write to the file, which changes its ctime, makes it read again. Files changed
 * in the two seconds before they were read are not recorded (the index's racy-clean rule).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashIndex, stampOf } from '../../adapters/local/hash-index.js';

export interface ModelHashOptions {
  /** The hash index directory; undefined reads the file every time. */
  indexDir?: string | undefined;
  /** The clock of the racy-clean rule (epoch ms); default Date.now. */
  now?: (() => number) | undefined;
}

/** Where a model file's sha256 came from: its bytes, or the index. */
export type Sha256Source = 'read' | 'index';

/** One index per directory for the whole process, its saves one at a time. */
const indexes = new Map<string, { index: HashIndex; saved: Promise<void> }>();

/**
 * The index of one directory's models. Its root names this use, so the local object store's
 * index of the same directory (which records MD5s too) is a different file. Shared by every
 * file of the directory (a model's many weights files): read once, never saved by two writers
 * at once, so no save puts back an older set of entries.
 */
function indexFor(path: string, dir: string): { index: HashIndex; saved: Promise<void> } {
  const root = `serve-models:${dirname(path)}`;
  const key = `${dir}\n${root}`;
  let entry = indexes.get(key);
  if (!entry) {
    entry = { index: new HashIndex(dir, root), saved: Promise.resolve() };
    indexes.set(key, entry);
  }
  return entry;
}

/** The file's sha256 (`stats`: a stat taken before the read). */
export async function modelSha256(
  path: string,
  stats: Stats,
  options: ModelHashOptions = {},
): Promise<{ sha256: string; from: Sha256Source }> {
  const shared = options.indexDir === undefined ? undefined : indexFor(path, options.indexDir);
  const key = basename(path);
  const stamp = stampOf(stats);
  await shared?.index.load();
  const known = shared?.index.get(key, stamp);
  if (known) return { sha256: known.sha256, from: 'index' };
  const readAt = (options.now ?? Date.now)();
  const sha256 = await hashFile(path);
  if (shared) {
    // Recorded under the stamp seen before the read: a write during the read changes the
    // stamp, so this record never matches the changed file.
    shared.index.set(key, stats, { stamp, sha256 }, readAt);
    shared.saved = shared.saved.then(() => shared.index.save());
    await shared.saved;
  }
  return { sha256, from: 'read' };
}

/** The sha256 of a file's bytes. */
async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}
