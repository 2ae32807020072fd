/**
 * Reading one large object as several ranged GETs in parallel, delivered in order as one
 * stream: the download side of a cross-cloud copy keeps `streams` requests busy while the
 * destination uploads parts from the same stream. Memory: at most `streams` parts buffered
 * (each `partSize`), whatever the object size.
 */
import { Readable } from 'node:stream';
import { McmlError, isMcmlError } from '../../core/errors.js';
import type { ObjectStore } from '../../ports/object-store.js';

export interface RangedReadOptions {
  size: number;
  /** Bytes per ranged GET. */
  partSize: number;
  /** Ranged GETs in flight (buffered parts). */
  streams: number;
  /** Tries per range for retryable failures (default 3). */
  attempts?: number;
  signal?: AbortSignal;
}

const MIB = 1024 * 1024;

/**
 * The part size for ranged downloads of `size` bytes: 8 MiB, grown so that an object takes at
 * most 1,000 ranged GETs (services such as S3 bill per request; emulators read the whole
 * object per range).
 */
export function downloadPartSize(size: number): number {
  return Math.max(8 * MIB, Math.ceil(size / 1000 / MIB) * MIB);
}

/** Whether an object is worth splitting: at least two parts per stream. */
export function worthRanges(size: number, streams: number): boolean {
  return streams > 1 && size >= 2 * streams * downloadPartSize(size);
}

/** The object's bytes, fetched as parallel ranges and yielded in order. */
export function rangedRead(store: ObjectStore, key: string, options: RangedReadOptions): Readable {
  return Readable.from(ranges(store, key, options), { objectMode: false });
}

async function* ranges(
  store: ObjectStore,
  key: string,
  options: RangedReadOptions,
): AsyncGenerator<Buffer> {
  const { size, partSize } = options;
  const streams = Math.max(1, options.streams);
  const pending: Promise<Buffer>[] = [];
  let next = 0;
  const fill = () => {
    while (next < size && pending.length < streams) {
      const start = next;
      const end = Math.min(start + partSize, size) - 1;
      const p = fetchRange(store, key, start, end, options);
      // Rejections surface when the part's turn comes; until then they must not crash.
      p.catch(() => undefined);
      pending.push(p);
      next = end + 1;
    }
  };
  fill();
  while (pending.length > 0) {
    options.signal?.throwIfAborted();
    const part = await pending.shift()!;
    fill();
    yield part;
  }
}

async function fetchRange(
  store: ObjectStore,
  key: string,
  start: number,
  end: number,
  options: RangedReadOptions,
): Promise<Buffer> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      options.signal?.throwIfAborted();
      const body = await store.read(key, { start, end });
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const part = Buffer.concat(chunks);
      if (part.length !== end - start + 1)
        throw new McmlError(
          'INTEGRITY',
          `${key}: bytes ${start}-${end} gave ${part.length} bytes (did the object change?)`,
        );
      return part;
    } catch (error) {
      const retryable =
        !isMcmlError(error) || error.details.retryable === true || error.code === 'INTEGRITY';
      if (!retryable || attempt >= attempts || options.signal?.aborted) throw error;
      await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
}
