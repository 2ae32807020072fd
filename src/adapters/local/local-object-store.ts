/**
 * ObjectStore on a local directory. Writes go to a temp file in the same directory, are
 * fsync'ed and renamed into place, so a reader sees the old file or the complete new one.
 *
 * Hashes: a POSIX file has no portable place for metadata (xattrs are not everywhere), so the
 * sha256/md5 of a file is computed from its bytes when asked (stat, or list with
 * `hashes: true`) and memoised by its stamp (device, inode, size, mtime, ctime): in-process,
 * and with `hashIndexDir` across runs in a HashIndex in the cache directory. Nothing is written
 * next to the user's files besides the transient temp file of an in-flight write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  copyFile,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { McmlError } from '../../core/errors.js';
import { pool } from '../../core/pool.js';
import type {
  AbandonedWrite,
  ByteRange,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  WriteOptions,
} from '../../ports/object-store.js';
import { HashingStream, checkKey, hashingFor, storeError } from '../object-store-common.js';
import { HashIndex, stampOf, type FileHashes } from './hash-index.js';

/** Temp files of in-flight writes carry this marker: `..mcml-tmp-PID-RANDOM`. */
export const LOCAL_TEMP_MARKER = '.mcml-tmp-';
/**
 * The exact shape of a temp file's name (older versions wrote no PID). Only these are hidden
 * from listings: a user's file that merely contains the marker is an ordinary object.
 */
const TEMP_NAME = /^\.\.mcml-tmp-(?:(\d+)-)?[0-9a-f]{12}$/;
/** A temp file without a live owner this old is abandoned even when its PID is unknown. */
const ORPHAN_AGE_MS = 3600_000;

/** Whether a process with this PID runs on this machine (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
const PAGE = 1000;
const HASH_CONCURRENCY = 8;
/** Files up to this size are hashed from one read, larger ones streamed. */
const WHOLE_READ_MAX = 1 << 20;

export interface LocalObjectStoreOptions {
  /** Keep a persistent hash index in this directory (see hash-index.ts); default none. */
  hashIndexDir?: string;
  /** The clock the index's racy-entry rule reads (default Date.now). */
  now?: () => number;
}

export class LocalObjectStore implements ObjectStore {
  readonly scheme = 'file' as const;
  readonly uri: string;
  private readonly hashes = new Map<string, FileHashes>();
  private readonly index: HashIndex | undefined;
  private readonly now: () => number;

  /** @param root absolute directory path */
  constructor(
    readonly root: string,
    options: LocalObjectStoreOptions = {},
  ) {
    this.uri = pathToFileURL(root.endsWith(sep) ? root : root + sep).href;
    this.index =
      options.hashIndexDir !== undefined ? new HashIndex(options.hashIndexDir, root) : undefined;
    this.now = options.now ?? Date.now;
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo[]> {
    if (!(await this.checkRoot(options.mustExist === true))) return;
    const all: ObjectInfo[] = [];
    // The walk's stats serve the hashing too: one stat per file per listing.
    const stats = new Map<string, Stats>();
    // Walk only the directory the prefix points into, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const startDir = slash >= 0 ? prefix.slice(0, slash) : '';
    await Promise.all([
      this.walk(startDir, all, options.signal, undefined, stats),
      options.hashes ? this.index?.load() : undefined,
    ]);
    const matching = all.filter((o) => o.key.startsWith(prefix));
    matching.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let i = 0; i < matching.length; i += PAGE) {
      const page = matching.slice(i, i + PAGE);
      if (options.hashes) await this.fillHashes(page, stats, options.signal);
      yield page;
    }
    if (options.hashes && this.index) {
      if (prefix === '') this.index.retain(new Set(all.map((o) => o.key)));
      await this.index.save();
    }
  }

  /**
   * Whether the root is a directory to list. A missing root lists nothing, or throws NOT_FOUND
   * when it must exist (a source); a file in its place (or in a parent's) always throws.
   */
  private async checkRoot(mustExist: boolean): Promise<boolean> {
    let s;
    try {
      s = await stat(this.root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !mustExist) return false;
      if (code === 'ENOENT')
        throw new McmlError('NOT_FOUND', `${this.root} does not exist`, {
          hint: 'check the path; nothing was copied or deleted',
        });
      if (code === 'ENOTDIR')
        throw new McmlError('INVALID_ARGUMENT', `a parent of ${this.root} is a file`, {
          hint: 'give a directory path',
        });
      throw storeError(error, 'listing', this.uri);
    }
    if (!s.isDirectory())
      throw new McmlError('INVALID_ARGUMENT', `${this.root} is a file, not a directory`, {
        hint: mustExist
          ? `to sync one file, sync its directory with --include ${basename(this.root)}`
          : 'a destination is a directory (it is created when missing): give a directory path',
      });
    return true;
  }

  private async walk(
    rel: string,
    out: ObjectInfo[],
    signal: AbortSignal | undefined,
    temps: string[] | undefined,
    stats?: Map<string, Stats>,
  ): Promise<void> {
    signal?.throwIfAborted();
    const dir = rel === '' ? this.root : join(this.root, ...rel.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw storeError(error, 'listing', this.uri);
    }
    const subdirs: string[] = [];
    const files: string[] = [];
    for (const e of entries) {
      const key = rel === '' ? e.name : `${rel}/${e.name}`;
      if (TEMP_NAME.test(e.name)) {
        temps?.push(key);
        continue;
      }
      if (e.isDirectory()) subdirs.push(key);
      else if (e.isFile() || e.isSymbolicLink()) files.push(key);
    }
    await Promise.all(
      files.map(async (key) => {
        try {
          const s = await stat(join(this.root, ...key.split('/')));
          if (!s.isFile()) return;
          out.push({ key, size: s.size, lastModified: s.mtime });
          stats?.set(key, s);
        } catch {
          /* vanished while listing */
        }
      }),
    );
    for (const d of subdirs) await this.walk(d, out, signal, temps, stats);
  }

  private async fillHashes(
    page: ObjectInfo[],
    stats: Map<string, Stats>,
    signal?: AbortSignal,
  ): Promise<void> {
    await pool(
      page,
      HASH_CONCURRENCY,
      async (info) => {
        const h = await this.hashOf(info.key, stats.get(info.key));
        if (h) {
          info.sha256 = h.sha256;
          if (h.md5 !== undefined) info.md5 = h.md5;
        }
      },
      signal,
    );
  }

  /** The hashes of a file: memoised, from the persistent index, or read (`s`: a fresh stat). */
  private async hashOf(key: string, s?: Stats): Promise<FileHashes | undefined> {
    const file = this.path(key);
    if (s === undefined) {
      try {
        s = await stat(file);
      } catch {
        return undefined;
      }
    }
    const stamp = stampOf(s);
    const cached = this.hashes.get(file) ?? this.index?.get(key, stamp);
    // This store records both hashes; an entry with the sha256 alone is read again.
    if (cached && cached.stamp === stamp && cached.md5 !== undefined) return cached;
    const hashedAt = this.now();
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    try {
      if (s.size <= WHOLE_READ_MAX) {
        // One read for a small file: a stream's machinery costs more than the hashing.
        const bytes = await readFile(file);
        sha.update(bytes);
        md5.update(bytes);
      } else {
        const highWaterMark = WHOLE_READ_MAX;
        for await (const chunk of createReadStream(file, { highWaterMark })) {
          sha.update(chunk as Buffer);
          md5.update(chunk as Buffer);
        }
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined; // vanished since the listing
      throw error;
    }
    const entry = { stamp, sha256: sha.digest('hex'), md5: md5.digest('hex') };
    this.hashes.set(file, entry);
    this.index?.set(key, s, entry, hashedAt);
    return entry;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const file = this.path(key);
    try {
      const s = await stat(file);
      if (!s.isFile()) return undefined;
      const h = await this.hashOf(key, s);
      return {
        key,
        size: s.size,
        lastModified: s.mtime,
        ...(h ? { sha256: h.sha256 } : {}),
        ...(h?.md5 !== undefined ? { md5: h.md5 } : {}),
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw storeError(error, `stat ${key}`, this.uri);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.path(key);
    try {
      const handle = await open(file, 'r');
      const s = await handle.stat();
      if (!s.isFile()) {
        await handle.close();
        throw new McmlError('NOT_FOUND', `${this.uri}${key} is not a file`);
      }
      return handle.createReadStream({
        highWaterMark: Math.max(16 * 1024, Math.min(1 << 20, s.size)),
        ...(range
          ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) }
          : {}),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
        throw new McmlError('NOT_FOUND', `${this.uri}${key} does not exist`, { cause: error });
      throw storeError(error, `reading ${key}`, this.uri);
    }
  }

  private tempFor(file: string): string {
    const name = `.${LOCAL_TEMP_MARKER}${process.pid}-${randomBytes(6).toString('hex')}`;
    return join(dirname(file), name);
  }

  /** Temp files whose writer is gone: a dead PID, or no PID and older than an hour. */
  async abandoned(): Promise<AbandonedWrite[]> {
    const temps: string[] = [];
    await this.walk('', [], undefined, temps);
    const out: AbandonedWrite[] = [];
    for (const key of temps) {
      const pid = Number(TEMP_NAME.exec(key.slice(key.lastIndexOf('/') + 1))?.[1] ?? NaN);
      let s;
      try {
        s = await stat(join(this.root, ...key.split('/')));
      } catch {
        continue; // finished or removed meanwhile
      }
      const stale = Number.isInteger(pid)
        ? pid !== process.pid && !alive(pid)
        : Date.now() - s.mtimeMs > ORPHAN_AGE_MS;
      if (stale) out.push({ key, size: s.size, started: s.mtime });
    }
    return out;
  }

  async cleanAbandoned(): Promise<AbandonedWrite[]> {
    const removed: AbandonedWrite[] = [];
    for (const a of await this.abandoned()) {
      try {
        await unlink(join(this.root, ...a.key.split('/')));
        removed.push(a);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          throw storeError(error, `removing the abandoned temp file ${a.key}`, this.uri);
      }
    }
    return removed;
  }

  async write(key: string, body: Readable, options: WriteOptions = {}): Promise<ObjectInfo> {
    const file = this.path(key);
    const temp = this.tempFor(file);
    const hashing = new HashingStream(hashingFor(options, true));
    try {
      await mkdir(dirname(file), { recursive: true });
      const handle = await open(temp, 'wx', 0o644);
      try {
        body.on('error', (e) => hashing.destroy(e));
        body.pipe(hashing);
        for await (const chunk of hashing) {
          options.signal?.throwIfAborted();
          await handle.write(chunk as Buffer);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const d = hashing.digests();
      if (options.sha256 !== undefined && options.sha256 !== d.sha256) {
        throw new McmlError(
          'INTEGRITY',
          `${key}: content hash ${d.sha256} differs from the expected ${options.sha256}`,
        );
      }
      if (options.size !== undefined && options.size !== d.size) {
        throw new McmlError('INTEGRITY', `${key}: wrote ${d.size} bytes, expected ${options.size}`);
      }
      await rename(temp, file);
      await syncDir(dirname(file));
      const s = await stat(file);
      this.hashes.set(file, {
        stamp: stampOf(s),
        sha256: d.sha256,
        md5: d.md5!,
      });
      return { key, size: d.size, lastModified: s.mtime, sha256: d.sha256, md5: d.md5! };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw storeError(error, `writing ${key}`, this.uri);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.path(key);
    try {
      await unlink(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw storeError(error, `deleting ${key}`, this.uri);
    }
    // Remove directories the delete emptied, up to the root.
    let dir = dirname(file);
    while (dir.length > this.root.length && dir.startsWith(this.root)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<ObjectInfo> {
    const from = this.path(fromKey);
    const to = this.path(toKey);
    const temp = this.tempFor(to);
    try {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, temp);
      const h = await open(temp, 'r+');
      await h.sync();
      await h.close();
      await rename(temp, to);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new McmlError('NOT_FOUND', `${this.uri}${fromKey} does not exist`, { cause: error });
      throw storeError(error, `copying ${fromKey}`, this.uri);
    }
    const info = await this.stat(toKey);
    if (!info) throw new McmlError('INTERNAL', `copy of ${fromKey} to ${toKey} vanished`);
    return info;
  }

  presign(key: string): Promise<string> {
    // A local file has no HTTP endpoint; its file URL is readable by anything on this machine.
    return Promise.resolve(pathToFileURL(this.path(key)).href);
  }

  location(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* some filesystems refuse fsync on directories; the rename is still atomic */
  }
}
