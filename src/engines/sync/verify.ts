/**
 * `mcml data verify`: like `rclone check`. Lists both sides once, compares by size and the
 * shared hash, stats only what the listings cannot settle, and hashes both copies by download
 * only as a last resort.
 */
import { createHash } from 'node:crypto';
import { compareObjects, diffListings } from '../../core/sync/diff.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { pool } from '../../core/pool.js';
import { listAll } from './sync.js';

export interface VerifyReport {
  source: string;
  destination: string;
  same: number;
  /** In the source, not at the destination. */
  missing: string[];
  /** At both, with different content. */
  different: string[];
  /** At the destination, not in the source. */
  extra: string[];
  /** Leftovers of interrupted writes at the destination (temp files, abandoned uploads). */
  abandoned: string[];
  /** Objects compared by downloading both sides (no shared hash anywhere). */
  downloaded: number;
  ok: boolean;
}

async function sha256Of(store: ObjectStore, key: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of await store.read(key)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function verifyStores(
  source: ObjectStore,
  destination: ObjectStore,
  options: { include?: string[]; exclude?: string[]; checkers?: number; signal?: AbortSignal } = {},
): Promise<VerifyReport> {
  const signal = options.signal ? { signal: options.signal } : {};
  const [src, dst] = await Promise.all([
    listAll(source, { hashes: true, mustExist: true, ...signal }),
    listAll(destination, { hashes: true, ...signal }),
  ]);
  const filter = {
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
  };
  const diff = diffListings(src, dst, filter);
  const dstByKey = new Map(dst.map((o) => [o.key, o]));
  const srcByKey = new Map(src.map((o) => [o.key, o]));
  const missing: string[] = [];
  const different: string[] = [];
  let same = diff.same.length;
  let downloaded = 0;
  for (const c of diff.copy) (c.reason === 'missing' ? missing : different).push(c.key);
  await pool(
    diff.unknown,
    options.checkers ?? 8,
    async (key) => {
      let s: ObjectInfo | undefined = srcByKey.get(key);
      let d: ObjectInfo | undefined = dstByKey.get(key);
      if (!s?.sha256) s = (await source.stat(key)) ?? s;
      if (!d?.sha256) d = (await destination.stat(key)) ?? d;
      if (!s || !d) {
        missing.push(key);
        return;
      }
      let result = compareObjects(s, d).result;
      if (result === 'unknown') {
        downloaded++;
        const [a, b] = await Promise.all([sha256Of(source, key), sha256Of(destination, key)]);
        result = a === b ? 'same' : 'different';
      }
      if (result === 'same') same++;
      else different.push(key);
    },
    options.signal,
  );
  missing.sort();
  different.sort();
  const extra = diff.extra.map((e) => e.key).sort();
  const abandoned = ((await destination.abandoned?.()) ?? []).map((a) => a.key).sort();
  return {
    source: source.uri,
    destination: destination.uri,
    same,
    missing,
    different,
    extra,
    abandoned,
    downloaded,
    ok:
      missing.length === 0 &&
      different.length === 0 &&
      extra.length === 0 &&
      abandoned.length === 0,
  };
}
