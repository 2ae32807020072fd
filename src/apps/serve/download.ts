/**
 * Reading a model object from a store for `mcml serve`: one stream, or, for a large object and
 * `streams` > 1, that many ranged GETs in flight delivered in order (the sync engine's ranged
 * read: parts of 8 MiB or more, each retried on its own, memory bounded by the parts in flight).
 */
import type { Readable } from 'node:stream';
import { downloadPartSize, rangedRead, worthRanges } from '../../engines/sync/ranged-read.js';
import type { ObjectStore } from '../../ports/object-store.js';

export async function openDownload(
  store: ObjectStore,
  key: string,
  size: number,
  streams: number,
): Promise<Readable> {
  if (!worthRanges(size, streams)) return store.read(key);
  return rangedRead(store, key, { size, partSize: downloadPartSize(size), streams });
}
