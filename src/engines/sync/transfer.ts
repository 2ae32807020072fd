/**
 * The transfer phase of a sync: each source object read once and streamed to every
 * destination that needs it (or copied server-side from a presigned URL), checked end to end
 * against the sha256 computed while streaming, retried on retryable failures.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { McmlError, isMcmlError } from '../../core/errors.js';
import type { FanOutItem } from '../../core/sync/diff.js';
import type { ObjectInfo } from '../../ports/object-store.js';
import { pool } from '../../core/pool.js';
import { backoff, describeFailure } from './attempts.js';
import { downloadPartSize, rangedRead, worthRanges } from './ranged-read.js';
import type { DestinationReport, SyncRun } from './types.js';

/** What the transfer phase reads and updates. */
export interface TransferState {
  run: SyncRun;
  /** The source listing by key (completed by stats where a hash was needed). */
  srcByKey: Map<string, ObjectInfo>;
  reports: DestinationReport[];
  objectsRead: number;
  bytesRead: number;
  bytesResumed: number;
  /** Destinations whose service turned out not to implement fetch-from-URL: streamed instead. */
  noServerSide: Set<number>;
}

/** Failures of one attempt, by destination index. */
type Failures = Map<number, unknown>;

/** Transfers every item with `run.transfers` objects in flight. */
export async function transferAll(state: TransferState, items: FanOutItem[]): Promise<void> {
  await pool(
    items,
    state.run.transfers,
    (item) => transferItem(state, item),
    state.run.options.signal,
  );
}

/** Records a failure that is final for this destination. */
export function recordFailure(state: TransferState, key: string, i: number, error: unknown): void {
  const d = describeFailure(error);
  state.reports[i]!.failed.push({ key, error: d.message, code: d.code });
  state.run.emit({
    type: 'failed',
    key,
    destination: state.run.destinations[i]!.uri,
    error: d.message,
  });
}

/** One object to all its destinations, attempt after attempt until it is there or final. */
async function transferItem(state: TransferState, item: FanOutItem): Promise<void> {
  const { run } = state;
  let sideTargets = await serverSideTargets(state, item);
  let streamTargets = item.destinations.filter((i) => !sideTargets.includes(i));
  for (let attempt = 1; ; attempt++) {
    const failures = await attemptOnce(state, item, streamTargets, sideTargets);
    if (failures.size === 0) break;
    const retry = [...failures].filter(([, e]) => describeFailure(e).retryable);
    for (const [i, e] of failures)
      if (!describeFailure(e).retryable || attempt >= run.attempts)
        recordFailure(state, item.key, i, e);
    if (retry.length === 0 || attempt >= run.attempts) break;
    const delay = backoff(attempt);
    run.emit({
      type: 'retry',
      key: item.key,
      attempt,
      delayMs: Math.round(delay),
      error: describeFailure(retry[0]![1]).message,
    });
    await run.sleep(delay);
    const again = new Set(retry.map(([i]) => i));
    streamTargets = streamTargets.filter((i) => again.has(i));
    sideTargets = sideTargets.filter((i) => again.has(i));
  }
  run.emit({ type: 'object-done', key: item.key });
}

function canServerSide(state: TransferState, i: number): boolean {
  const { options, source, destinations } = state.run;
  return (
    options.serverSide === true &&
    !state.noServerSide.has(i) &&
    source.scheme !== 'file' &&
    typeof destinations[i]!.writeFromUrl === 'function'
  );
}

/** The destinations to copy server-side: those that can, when the source's sha256 is known. */
async function serverSideTargets(state: TransferState, item: FanOutItem): Promise<number[]> {
  const targets = item.destinations.filter((i) => canServerSide(state, i));
  if (targets.length === 0 || state.srcByKey.get(item.key)?.sha256) return targets;
  // Every write stores the content's sha256, and a server-side copy can only carry one the
  // source already has: S3 listings do not return it, so ask the object (mcml's writes keep
  // it in metadata). Objects without one are streamed, which computes it.
  const s = await state.run.source.stat(item.key).catch(() => undefined);
  if (s) state.srcByKey.set(item.key, { ...state.srcByKey.get(item.key)!, ...definedOnly(s) });
  return state.srcByKey.get(item.key)?.sha256 ? targets : [];
}

/** One attempt: stream to some destinations and copy server-side to the others, together. */
async function attemptOnce(
  state: TransferState,
  item: FanOutItem,
  streamTargets: number[],
  sideTargets: number[],
): Promise<Failures> {
  const { run } = state;
  const failures: Failures = new Map();
  const [streamed, ...side] = await Promise.all([
    streamTargets.length > 0
      ? streamOnce(state, item, streamTargets)
      : Promise.resolve<Failures>(new Map()),
    ...sideTargets.map((i) => serverSideOnce(state, item, i)),
  ]);
  for (const [i, e] of streamed) failures.set(i, e);
  const fallback: number[] = [];
  sideTargets.forEach((i, j) => {
    const e = side[j];
    if (e === undefined) return;
    if (isMcmlError(e) && e.code === 'UNSUPPORTED') {
      state.noServerSide.add(i);
      fallback.push(i);
      run.emit({ type: 'fallback', destination: run.destinations[i]!.uri, error: e.message });
    } else failures.set(i, e);
  });
  if (fallback.length > 0) {
    // Not an attempt: stream to these now, and retry the others' failures as usual.
    for (const [i, e] of await streamOnce(state, item, fallback)) failures.set(i, e);
  }
  return failures;
}

/** Reads the object once and writes it to every target; checks what each one stored. */
async function streamOnce(
  state: TransferState,
  item: FanOutItem,
  targets: number[],
): Promise<Failures> {
  const failures: Failures = new Map();
  const info = state.srcByKey.get(item.key)!;
  let body: Readable;
  try {
    body = await openSource(state, item.key, info);
  } catch (error) {
    for (const i of targets) failures.set(i, error);
    return failures;
  }
  state.objectsRead++;
  const digest = new Digest((n) => {
    state.bytesRead += n;
    state.run.emit({ type: 'bytes', bytes: n });
  });
  const passes = fanOutStream(body, digest, targets.length);
  const results = await Promise.allSettled(
    targets.map((i, j) => writeTo(state, i, item.key, info, passes[j]!, digest)),
  );
  body.destroy();
  for (let j = 0; j < targets.length; j++) {
    const i = targets[j]!;
    const r = results[j]!;
    if (r.status === 'rejected') {
      failures.set(i, r.reason);
      continue;
    }
    const mismatch = await checkStored(state, i, item.key, info, digest, r.value);
    if (mismatch) failures.set(i, mismatch);
  }
  return failures;
}

/** The source object as one stream (parallel ranged reads, in order, when worth it). */
async function openSource(state: TransferState, key: string, info: ObjectInfo): Promise<Readable> {
  const { source, options } = state.run;
  const streams = options.downloadStreams ?? 1;
  if (!worthRanges(info.size, streams)) return source.read(key);
  return rangedRead(source, key, {
    size: info.size,
    partSize: downloadPartSize(info.size),
    streams,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** body → digest → one PassThrough per target; an error anywhere reaches every target. */
function fanOutStream(body: Readable, digest: Digest, count: number): PassThrough[] {
  const passes = Array.from({ length: count }, () => new PassThrough({ highWaterMark: 1 << 20 }));
  body.on('error', (e) => {
    digest.destroy(e);
    for (const p of passes) p.destroy(e);
  });
  digest.on('error', (e) => {
    for (const p of passes) p.destroy(e);
  });
  body.pipe(digest);
  for (const p of passes) digest.pipe(p);
  return passes;
}

function writeTo(
  state: TransferState,
  i: number,
  key: string,
  info: ObjectInfo,
  body: PassThrough,
  digest: Digest,
): Promise<ObjectInfo> {
  const { options, destinations } = state.run;
  return destinations[i]!.write(key, body, {
    size: info.size,
    ...(info.sha256 ? { sha256: info.sha256 } : {}),
    // Hashed once, here: the adapters take this sha256 instead of hashing every byte again
    // (they still count the bytes, and the stores check each part's MD5).
    bodySha256: () => digest.sha256,
    // An MD5 from the listing that gave the sha256 the stream is checked against.
    ...(info.sha256 && info.md5 ? { md5: info.md5 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onResumed: (n: number) => {
      state.bytesResumed += n;
    },
  }).catch((e: unknown) => {
    body.destroy();
    throw e;
  });
}

/**
 * End to end: the bytes read must hash like the source's recorded sha256, the destination
 * must have taken every one of them (the adapter counts them itself; the store checked each
 * part's MD5) and recorded this sha256. Returns the mismatch, or counts the copy.
 */
async function checkStored(
  state: TransferState,
  i: number,
  key: string,
  info: ObjectInfo,
  digest: Digest,
  stored: ObjectInfo,
): Promise<McmlError | undefined> {
  const destination = state.run.destinations[i]!;
  const expected = digest.sha256;
  if (
    expected === undefined ||
    stored.sha256 !== expected ||
    stored.size !== digest.bytes ||
    (info.sha256 !== undefined && info.sha256 !== expected)
  ) {
    await destination.delete(key).catch(() => undefined);
    return new McmlError(
      'INTEGRITY',
      `${key}: ${destination.uri} stored sha256 ${stored.sha256 ?? '?'} but the source streamed ${expected ?? '?'}`,
      { details: { retryable: true } },
    );
  }
  state.reports[i]!.copied++;
  state.reports[i]!.bytesWritten += stored.size;
  state.run.emit({
    type: 'copied',
    key,
    destination: destination.uri,
    size: stored.size,
    serverSide: false,
  });
  return undefined;
}

/** A copy the destination fetches itself from a presigned source URL; the error, if any. */
async function serverSideOnce(state: TransferState, item: FanOutItem, i: number): Promise<unknown> {
  const { source, destinations, options } = state.run;
  const info = state.srcByKey.get(item.key)!;
  const dest = destinations[i]!;
  try {
    const url = await source.presign(item.key, 3600);
    const stored = await dest.writeFromUrl!(item.key, url, {
      size: info.size,
      ...(info.sha256 ? { sha256: info.sha256 } : {}),
      ...(info.md5 ? { md5: info.md5 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    state.reports[i]!.copied++;
    state.reports[i]!.serverSide++;
    state.reports[i]!.bytesWritten += stored.size;
    state.run.emit({
      type: 'copied',
      key: item.key,
      destination: dest.uri,
      size: stored.size,
      serverSide: true,
    });
    return undefined;
  } catch (error) {
    return error;
  }
}

/** The fields of `o` that are set (so a stat completes a listing without erasing it). */
export function definedOnly(o: ObjectInfo): Partial<ObjectInfo> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Passes the bytes through, counting them and hashing them with sha256. */
class Digest extends Transform {
  private readonly sha = createHash('sha256');
  bytes = 0;
  sha256: string | undefined;
  constructor(private readonly onBytes: (n: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.sha.update(chunk);
    this.bytes += chunk.length;
    this.onBytes(chunk.length);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    this.sha256 = this.sha.digest('hex');
    done();
  }
}
