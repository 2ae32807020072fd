/**
 * Downloading a model object (a .onnx file or its weights) for `mcml serve`: one stream, or, for
 * a large object and `streams` > 1, that many ranged GETs in flight delivered in order (the sync
 * engine's ranged read: parts of 8 MiB or more, each retried on its own, memory bounded by the
 * parts in flight). The bytes go to a temp file beside the target, hashed on the way, and are
 * renamed into place only once `check` accepts them: a reader never sees part of a file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadPartSize, rangedRead, worthRanges } from '../../engines/sync/ranged-read.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';

export async function openDownload(
  store: ObjectStore,
  key: string,
  size: number,
  streams: number,
): Promise<Readable> {
  if (!worthRanges(size, streams)) return store.read(key);
  return rangedRead(store, key, { size, partSize: downloadPartSize(size), streams });
}

/** How far a download is: bytes received of `total`; `done` once the file is in place. */
export interface DownloadProgress {
  /** The object, as the caller names it (a URI). */
  uri: string;
  bytes: number;
  total: number;
  done: boolean;
}

/**
 * Downloads `info.key` to `path`. `check` gets the bytes' sha256 and count and throws to refuse
 * them (nothing is kept then); `progress` hears of every chunk and of the end. Returns the sha256.
 */
export async function downloadToFile(
  store: ObjectStore,
  info: ObjectInfo,
  path: string,
  streams: number,
  check: (sha256: string, bytes: number) => void,
  progress?: { uri: string; report: (p: DownloadProgress) => void },
): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomUUID()}.part`);
  const hash = createHash('sha256');
  let bytes = 0;
  const tell = (done: boolean) =>
    progress?.report({ uri: progress.uri, bytes, total: info.size, done });
  try {
    await pipeline(
      await openDownload(store, info.key, info.size, streams),
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          tell(false);
          done(null, chunk);
        },
      }),
      createWriteStream(tmp),
    );
    const sha256 = hash.digest('hex');
    check(sha256, bytes);
    await rename(tmp, path);
    tell(true);
    return sha256;
  } finally {
    await rm(tmp, { force: true });
  }
}
