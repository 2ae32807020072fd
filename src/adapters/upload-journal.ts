/**
 * Where interrupted large uploads are remembered so a rerun can resume them: one small JSON
 * file per (store, key) under a state directory (default ~/.cache/mcml/uploads). It records the
 * upload's id (S3 UploadId, GCS session URI), the source version it belongs to (size + sha256)
 * and the part size. The stored parts themselves are asked from the service on resume; the
 * journal only says which upload is ours and for which bytes.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AbandonedWrite } from '../ports/object-store.js';
import { mcmlCacheDir } from './cache-dir.js';

/** An upload nobody resumed for this long is abandoned: the adapters end it on request. */
export const ABANDONED_AFTER_MS = 24 * 3600_000;

/** The source version an upload belongs to: a different one means start again. */
export interface SourceVersion {
  size: number;
  sha256: string;
}

export interface UploadRecord {
  /** The store's URI and the object key, for listings of abandoned uploads. */
  store: string;
  key: string;
  /** S3 UploadId or GCS resumable session URI. */
  id: string;
  version: SourceVersion;
  partSize: number;
  startedAt: string;
}

/**
 * Whether a journaled upload belongs to this source version with this part size: only then
 * may its stored parts be reused (anything else restarts, never splices).
 */
export function continues(
  record: UploadRecord,
  version: SourceVersion | undefined,
  partSize: number,
): version is SourceVersion {
  return (
    version !== undefined &&
    record.version.size === version.size &&
    record.version.sha256 === version.sha256 &&
    record.partSize === partSize
  );
}

export class UploadJournal {
  constructor(readonly dir: string) {}

  private file(store: string, key: string): string {
    const h = createHash('sha256').update(`${store}\n${key}`).digest('hex').slice(0, 32);
    return join(this.dir, `${h}.json`);
  }

  async get(store: string, key: string): Promise<UploadRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(store, key), 'utf8')) as UploadRecord;
    } catch {
      return undefined;
    }
  }

  async put(record: UploadRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(record.store, record.key);
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(record), { mode: 0o600 });
    await rename(temp, file);
  }

  async delete(store: string, key: string): Promise<void> {
    await unlink(this.file(store, key)).catch(() => undefined);
  }

  /** Every record of one store. */
  async list(store: string): Promise<UploadRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: UploadRecord[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        const r = JSON.parse(await readFile(join(this.dir, n), 'utf8')) as UploadRecord;
        if (r.store === store) out.push(r);
      } catch {
        /* a record being replaced */
      }
    }
    return out;
  }

  /** One store's records older than ABANDONED_AFTER_MS: nobody resumed them. */
  async abandoned(store: string): Promise<UploadRecord[]> {
    const cutoff = Date.now() - ABANDONED_AFTER_MS;
    return (await this.list(store)).filter((r) => Date.parse(r.startedAt) < cutoff);
  }

  /** Ends each abandoned upload of one store with `end` (abort, cancel), then forgets it. */
  async cleanAbandoned(
    store: string,
    end: (record: UploadRecord) => Promise<void>,
  ): Promise<AbandonedWrite[]> {
    const old = await this.abandoned(store);
    for (const r of old) {
      await end(r);
      await this.delete(store, r.key);
    }
    return old.map(abandonedWrite);
  }
}

/** What the ObjectStore port reports of an abandoned upload. */
export function abandonedWrite(r: UploadRecord): AbandonedWrite {
  return { key: r.key, size: r.version.size, started: new Date(r.startedAt) };
}

/** The journal directory: MCML_UPLOAD_STATE_DIR, else $XDG_CACHE_HOME/mcml/uploads. */
export function defaultJournalDir(env: Record<string, string | undefined>): string {
  return mcmlCacheDir(env, 'MCML_UPLOAD_STATE_DIR', 'uploads');
}

const MIB = 1024 * 1024;

/**
 * A part size for an object of `size` bytes: at least `min`, and large enough that the object
 * fits in `maxParts` parts (S3: 10,000; Azure: 50,000 blocks), rounded up to whole MiB.
 */
export function partSizeFor(size: number | undefined, min: number, maxParts: number): number {
  if (size === undefined) return min;
  const needed = Math.ceil(size / maxParts / MIB) * MIB;
  return Math.max(min, needed);
}
