/**
 * A persistent index of local files' hashes, so a no-op resync of a directory stats its files
 * instead of reading them all again. One JSON file per directory root in the cache directory
 * (default ~/.cache/mcml/hashes), never next to the user's files. An entry is trusted only while
 * the file's stamp (device, inode, size, mtime and ctime) is unchanged: a write changes ctime,
 * which no user can set back, so content cannot change under an unchanged stamp. Entries of files
 * changed in the two seconds before they were hashed are kept in memory only (the "racily clean"
 * case of git's index: a write in the same clock tick could leave the stamp as it was).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { mcmlCacheDir } from '../cache-dir.js';

/** The hashes of one file, valid while its stamp is unchanged. */
export interface FileHashes {
  stamp: string;
  sha256: string;
  /** Absent in indexes that record the sha256 alone (the models `mcml serve` verifies). */
  md5?: string;
}

const VERSION = 1;
/** A file changed this recently before hashing is not persisted (see the file comment). */
const RACY_MS = 2000;

/** The stamp of a file: what must be unchanged for a recorded hash to hold. */
export function stampOf(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** Where hash indexes live: MCML_HASH_INDEX_DIR, else $XDG_CACHE_HOME/mcml/hashes. */
export function defaultHashIndexDir(env: Record<string, string | undefined>): string {
  return mcmlCacheDir(env, 'MCML_HASH_INDEX_DIR', 'hashes');
}

/** The persisted hashes of the files under one root, keyed by object key. */
export class HashIndex {
  private readonly file: string;
  private entries = new Map<string, FileHashes>();
  private loaded: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly dir: string,
    private readonly root: string,
  ) {
    const id = createHash('sha256').update(root).digest('hex').slice(0, 32);
    this.file = join(dir, `${id}.json`);
  }

  /** Reads the index once; a missing or unreadable index is an empty one (it is only a cache). */
  load(): Promise<void> {
    this.loaded ??= readFile(this.file, 'utf8').then(
      (text) => {
        const doc = JSON.parse(text) as {
          version?: number;
          root?: string;
          entries?: Record<string, [string, string, string]>;
        };
        if (doc.version !== VERSION || doc.root !== this.root || !doc.entries) return;
        for (const [key, [stamp, sha256, md5]] of Object.entries(doc.entries))
          this.entries.set(key, md5 ? { stamp, sha256, md5 } : { stamp, sha256 });
      },
      () => undefined,
    );
    return this.loaded.catch(() => undefined);
  }

  /** The recorded hashes of `key` when its stamp still matches. */
  get(key: string, stamp: string): FileHashes | undefined {
    const e = this.entries.get(key);
    return e && e.stamp === stamp ? e : undefined;
  }

  /** Records hashes computed from a file read that started at `hashedAt` (epoch ms). */
  set(key: string, stats: Stats, hashes: FileHashes, hashedAt: number): void {
    if (stats.ctimeMs > hashedAt - RACY_MS || stats.mtimeMs > hashedAt - RACY_MS) return;
    this.entries.set(key, hashes);
    this.dirty = true;
  }

  /** Keeps only the keys listed (files removed since are forgotten). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.entries.keys())
      if (!keys.has(key)) {
        this.entries.delete(key);
        this.dirty = true;
      }
  }

  /** Writes the index when it changed (temp file + rename: readers see old or new). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const entries: Record<string, [string, string, string]> = {};
    for (const [key, e] of this.entries) entries[key] = [e.stamp, e.sha256, e.md5 ?? ''];
    const temp = `${this.file}.${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(temp, JSON.stringify({ version: VERSION, root: this.root, entries }), {
        mode: 0o600,
      });
      await rename(temp, this.file);
    } catch {
      // A cache that cannot be written costs a re-read next time, nothing else.
      await unlink(temp).catch(() => undefined);
    }
  }
}
