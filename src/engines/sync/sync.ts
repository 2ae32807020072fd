/**
 * The sync engine: list every side once, diff (src/core/sync), settle what the listings
 * cannot with one stat, then transfer with a bounded pool. Each source object is read once
 * and streamed to every destination that needs it (fan-out); the sha256 computed while
 * streaming must equal what each destination stored. Retries back off on throttling, 5xx
 * and network errors. Library code: it emits events and returns a report, it never prints.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { McmlError, isMcmlError } from '../../core/errors.js';
import {
  diffListings,
  fanOut,
  settleUnknown,
  type CopyAction,
  type DestinationDiff,
  type FanOutItem,
} from '../../core/sync/diff.js';
import { isInside, parseStorageUri, redactUri } from '../../core/storage-uri.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { downloadPartSize, rangedRead, worthRanges } from './ranged-read.js';

export interface SyncOptions {
  source: ObjectStore;
  destinations: ObjectStore[];
  include?: string[];
  exclude?: string[];
  /** Delete destination objects absent from the source. */
  delete?: boolean;
  /** Refuse (before copying anything) when a destination would lose more objects than this. */
  maxDelete?: number;
  dryRun?: boolean;
  /** Objects in flight (default 16). */
  transfers?: number;
  /**
   * Ranged GETs in flight per large object read from the source (default 1: one stream).
   * Above 1, objects of at least 2 × streams parts are read as parallel ranges, in order.
   */
  downloadStreams?: number;
  /** Let destinations fetch from a presigned source URL (Azure Put Block From URL). */
  serverSide?: boolean;
  /** Attempts per object for retryable failures (default 5). */
  attempts?: number;
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  /** Injected for tests: waiting between retries. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type SyncEvent =
  | { type: 'planned'; objects: number; bytes: number; copies: number; deletes: number }
  | { type: 'bytes'; bytes: number }
  | { type: 'copied'; key: string; destination: string; size: number; serverSide: boolean }
  | { type: 'object-done'; key: string }
  | { type: 'deleted'; key: string; destination: string }
  | { type: 'abandoned-removed'; key: string; destination: string; size?: number }
  | { type: 'retry'; key: string; attempt: number; delayMs: number; error: string }
  | { type: 'fallback'; destination: string; error: string }
  | { type: 'failed'; key: string; destination: string; error: string };

export interface DestinationReport {
  uri: string;
  copied: number;
  bytesWritten: number;
  serverSide: number;
  unchanged: number;
  deleted: number;
  /** Leftovers of interrupted earlier writes removed (temp files, abandoned uploads). */
  abandonedRemoved: number;
  /** In a dry run: what would be copied and deleted. */
  wouldCopy?: CopyAction[];
  wouldDelete?: string[];
  failed: { key: string; error: string; code: string }[];
}

export interface SyncReport {
  source: string;
  dryRun: boolean;
  sourceObjects: number;
  /** Distinct source objects read (once each, whatever the number of destinations). */
  objectsRead: number;
  bytesRead: number;
  /** Objects whose listings did not settle equality and needed a stat. */
  statted: number;
  destinations: DestinationReport[];
  durationMs: number;
  /** Where the time went, by phase (ms), for --json. */
  timings: { list: number; settle: number; clean: number; transfer: number; delete: number };
  /** Bytes not sent again because an interrupted earlier write had stored them. */
  bytesResumed: number;
  ok: boolean;
}

const DEFAULT_MAX_DELETE = 1000;

/** Lists a store completely (paginated underneath). */
export async function listAll(
  store: ObjectStore,
  options: { hashes?: boolean; mustExist?: boolean; signal?: AbortSignal } = {},
): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const page of store.list('', {
    ...(options.hashes ? { hashes: true } : {}),
    ...(options.mustExist ? { mustExist: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  }))
    out.push(...page);
  return out;
}

/** Throws when a destination lies inside the source or equals it (it would copy its output). */
export function checkOverlap(source: ObjectStore, destinations: ObjectStore[]): void {
  const src = parseStorageUri(source.uri);
  for (const d of destinations) {
    const dst = parseStorageUri(d.uri);
    if (isInside(dst, src) || isInside(src, dst)) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `destination ${redactUri(d.uri)} overlaps the source ${redactUri(source.uri)}`,
        { hint: 'sync into a location outside the source (and not containing it)' },
      );
    }
  }
}

/** Runs a bounded pool of async jobs. */
export async function pool<T>(
  items: readonly T[],
  size: number,
  job: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      await job(items[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
}

/** Settles the objects the listings could not compare: one stat per side lacking a hash. */
async function settle(
  source: ObjectStore,
  srcByKey: Map<string, ObjectInfo>,
  destinations: ObjectStore[],
  dstLists: ObjectInfo[][],
  diffs: DestinationDiff[],
  transfers: number,
): Promise<{ diffs: DestinationDiff[]; statted: number }> {
  let statted = 0;
  const srcNeeds = new Set<string>();
  for (const d of diffs) for (const k of d.unknown) if (!srcByKey.get(k)?.sha256) srcNeeds.add(k);
  await pool([...srcNeeds], transfers, async (key) => {
    const s = await source.stat(key);
    statted++;
    if (s) srcByKey.set(key, { ...srcByKey.get(key)!, ...definedOnly(s) });
  });
  const out: DestinationDiff[] = [];
  for (let i = 0; i < diffs.length; i++) {
    const d = diffs[i]!;
    const stats = new Map<string, ObjectInfo | undefined>();
    const listed = new Map(dstLists[i]!.map((o) => [o.key, o]));
    await pool(d.unknown, transfers, async (key) => {
      const known = listed.get(key);
      // A listing that carries sha256 (GCS, Azure, files) needs no stat.
      if (known?.sha256) return void stats.set(key, known);
      stats.set(key, await destinations[i]!.stat(key));
      statted++;
    });
    out.push(settleUnknown(d, srcByKey, stats));
  }
  return { diffs: out, statted };
}

function definedOnly(o: ObjectInfo): Partial<ObjectInfo> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

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

function describe(error: unknown): { message: string; code: string; retryable: boolean } {
  if (isMcmlError(error))
    return {
      message: error.message,
      code: error.code,
      retryable: error.details.retryable === true,
    };
  const e = error as { code?: unknown; message?: string };
  return {
    message: e?.message ?? String(error),
    code: 'INTERNAL',
    retryable: /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up/.test(
      `${String(e?.code)} ${e?.message ?? ''}`,
    ),
  };
}

/** Synchronises `source` into every destination. See the file comment. */
export async function runSync(options: SyncOptions): Promise<SyncReport> {
  const now = options.now ?? (() => Date.now());
  const started = now();
  const { source, destinations } = options;
  const transfers = Math.max(1, options.transfers ?? 16);
  const attempts = Math.max(1, options.attempts ?? 5);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const emit = (e: SyncEvent) => options.onEvent?.(e);
  const filter = {
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
  };
  if (destinations.length === 0) throw new McmlError('USAGE', 'no destination given');
  checkOverlap(source, destinations);
  const backoff = (attempt: number) =>
    Math.min(10_000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

  // 1. List every side once, in parallel.
  const listWithRetry = async (store: ObjectStore): Promise<ObjectInfo[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await listAll(store, {
          hashes: true,
          // A source that cannot be read must fail the sync, never read as "no objects".
          ...(store === source ? { mustExist: true } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (!describe(error).retryable || attempt >= attempts) throw error;
        await sleep(backoff(attempt));
      }
    }
  };
  const timings = { list: 0, settle: 0, clean: 0, transfer: 0, delete: 0 };
  let mark = now();
  const lap = (phase: keyof typeof timings) => {
    const t = now();
    timings[phase] += t - mark;
    mark = t;
  };
  const [srcList, ...dstLists] = await Promise.all([
    listWithRetry(source),
    ...destinations.map(listWithRetry),
  ]);
  const srcByKey = new Map(srcList.map((o) => [o.key, o]));
  lap('list');

  // 2. Diff, and settle what the listings cannot.
  const rawDiffs = dstLists.map((l) => diffListings(srcList, l, filter));
  const { diffs, statted } = await settle(
    source,
    srcByKey,
    destinations,
    dstLists,
    rawDiffs,
    transfers,
  );
  lap('settle');

  // 3. Guard deletes before any byte moves.
  const maxDelete = options.maxDelete ?? DEFAULT_MAX_DELETE;
  if (options.delete) {
    diffs.forEach((d, i) => {
      if (d.extra.length > 0 && srcList.length === 0)
        throw new McmlError(
          'CONFLICT',
          `the source ${redactUri(source.uri)} lists no objects: --delete would empty ${redactUri(destinations[i]!.uri)} (${d.extra.length} objects); nothing was copied or deleted`,
          {
            hint: 'check the source URI (a typo in a prefix lists nothing); an empty source never deletes',
          },
        );
      if (d.extra.length > maxDelete)
        throw new McmlError(
          'CONFLICT',
          `--delete would remove ${d.extra.length} objects from ${redactUri(destinations[i]!.uri)}, more than --max-delete ${maxDelete}; nothing was copied or deleted`,
          {
            hint: `check the source and destination, then raise --max-delete to ${d.extra.length} if this is intended`,
          },
        );
    });
  }
  const items = fanOut(diffs);
  const reports: DestinationReport[] = destinations.map((d, i) => ({
    uri: d.uri,
    copied: 0,
    bytesWritten: 0,
    serverSide: 0,
    unchanged: diffs[i]!.same.length,
    deleted: 0,
    abandonedRemoved: 0,
    failed: [],
  }));
  emit({
    type: 'planned',
    objects: items.length,
    bytes: items.reduce((a, b) => a + b.size, 0),
    copies: diffs.reduce((a, d) => a + d.copy.length, 0),
    deletes: options.delete ? diffs.reduce((a, d) => a + d.extra.length, 0) : 0,
  });
  const base = {
    source: source.uri,
    sourceObjects: srcList.length,
    statted,
  };
  if (options.dryRun) {
    diffs.forEach((d, i) => {
      reports[i]!.wouldCopy = d.copy;
      reports[i]!.wouldDelete = options.delete ? d.extra.map((e) => e.key) : [];
    });
    return {
      ...base,
      dryRun: true,
      objectsRead: 0,
      bytesRead: 0,
      destinations: reports,
      durationMs: now() - started,
      timings,
      bytesResumed: 0,
      ok: true,
    };
  }

  // 4. Leftovers of interrupted earlier runs go first: nobody will finish them.
  await Promise.all(
    destinations.map(async (d, i) => {
      if (!d.cleanAbandoned) return;
      for (const a of await d.cleanAbandoned()) {
        reports[i]!.abandonedRemoved++;
        emit({
          type: 'abandoned-removed',
          key: a.key,
          destination: d.uri,
          ...(a.size !== undefined ? { size: a.size } : {}),
        });
      }
    }),
  );

  lap('clean');

  // 5. Transfer: one read per object, fanned out to the destinations that need it.
  let objectsRead = 0;
  let bytesResumed = 0;
  let bytesRead = 0;
  const fail = (key: string, i: number, error: unknown) => {
    const d = describe(error);
    reports[i]!.failed.push({ key, error: d.message, code: d.code });
    emit({ type: 'failed', key, destination: destinations[i]!.uri, error: d.message });
  };

  const streamOnce = async (item: FanOutItem, targets: number[]): Promise<Map<number, unknown>> => {
    const failures = new Map<number, unknown>();
    const info = srcByKey.get(item.key)!;
    let body: Readable;
    const streams = options.downloadStreams ?? 1;
    try {
      body = worthRanges(info.size, streams)
        ? rangedRead(source, item.key, {
            size: info.size,
            partSize: downloadPartSize(info.size),
            streams,
            ...(options.signal ? { signal: options.signal } : {}),
          })
        : await source.read(item.key);
    } catch (error) {
      for (const i of targets) failures.set(i, error);
      return failures;
    }
    objectsRead++;
    const digest = new Digest((n) => {
      bytesRead += n;
      emit({ type: 'bytes', bytes: n });
    });
    const passes = targets.map(() => new PassThrough({ highWaterMark: 1 << 20 }));
    body.on('error', (e) => {
      digest.destroy(e);
      for (const p of passes) p.destroy(e);
    });
    digest.on('error', (e) => {
      for (const p of passes) p.destroy(e);
    });
    body.pipe(digest);
    for (const p of passes) digest.pipe(p);
    const results = await Promise.allSettled(
      targets.map((i, j) =>
        destinations[i]!.write(item.key, passes[j]!, {
          size: info.size,
          ...(info.sha256 ? { sha256: info.sha256 } : {}),
          // Hashed once, here: the adapters take this sha256 instead of hashing every byte
          // again (they still count the bytes, and the stores check each part's MD5).
          bodySha256: () => digest.sha256,
          // An MD5 from the listing that gave the sha256 the stream is checked against.
          ...(info.sha256 && info.md5 ? { md5: info.md5 } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          onResumed: (n: number) => {
            bytesResumed += n;
          },
        }).catch((e: unknown) => {
          passes[j]!.destroy();
          throw e;
        }),
      ),
    );
    body.destroy();
    for (let j = 0; j < targets.length; j++) {
      const i = targets[j]!;
      const r = results[j]!;
      if (r.status === 'rejected') {
        failures.set(i, r.reason);
        continue;
      }
      // End-to-end: the bytes read must hash like the source's recorded sha256, the
      // destination must have taken every one of them (the adapter counts them itself; the
      // store checked each part's MD5) and recorded this sha256.
      const stored = r.value;
      const expected = digest.sha256;
      if (
        expected === undefined ||
        stored.sha256 !== expected ||
        stored.size !== digest.bytes ||
        (info.sha256 !== undefined && info.sha256 !== expected)
      ) {
        await destinations[i]!.delete(item.key).catch(() => undefined);
        failures.set(
          i,
          new McmlError(
            'INTEGRITY',
            `${item.key}: ${destinations[i]!.uri} stored sha256 ${stored.sha256 ?? '?'} but the source streamed ${expected ?? '?'}`,
            { details: { retryable: true } },
          ),
        );
        continue;
      }
      reports[i]!.copied++;
      reports[i]!.bytesWritten += stored.size;
      emit({
        type: 'copied',
        key: item.key,
        destination: destinations[i]!.uri,
        size: stored.size,
        serverSide: false,
      });
    }
    return failures;
  };

  const serverSideOnce = async (item: FanOutItem, i: number): Promise<unknown> => {
    const info = srcByKey.get(item.key)!;
    const dest = destinations[i]!;
    try {
      const url = await source.presign(item.key, 3600);
      const stored = await dest.writeFromUrl!(item.key, url, {
        size: info.size,
        ...(info.sha256 ? { sha256: info.sha256 } : {}),
        ...(info.md5 ? { md5: info.md5 } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      reports[i]!.copied++;
      reports[i]!.serverSide++;
      reports[i]!.bytesWritten += stored.size;
      emit({
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
  };

  // Destinations whose service turned out not to implement fetch-from-URL: streamed instead.
  const noServerSide = new Set<number>();
  const canServerSide = (i: number) =>
    options.serverSide === true &&
    !noServerSide.has(i) &&
    source.scheme !== 'file' &&
    typeof destinations[i]!.writeFromUrl === 'function';

  await pool(
    items,
    transfers,
    async (item) => {
      let sideTargets = item.destinations.filter(canServerSide);
      if (sideTargets.length > 0 && !srcByKey.get(item.key)?.sha256) {
        // Every write stores the content's sha256, and a server-side copy can only carry one
        // the source already has: S3 listings do not return it, so ask the object (mcml's
        // writes keep it in metadata). Objects without one are streamed, which computes it.
        const s = await source.stat(item.key).catch(() => undefined);
        if (s) srcByKey.set(item.key, { ...srcByKey.get(item.key)!, ...definedOnly(s) });
        if (!srcByKey.get(item.key)?.sha256) sideTargets = [];
      }
      let streamTargets = item.destinations.filter((i) => !sideTargets.includes(i));
      for (let attempt = 1; ; attempt++) {
        const failures = new Map<number, unknown>();
        const [streamed, ...side] = await Promise.all([
          streamTargets.length > 0
            ? streamOnce(item, streamTargets)
            : Promise.resolve(new Map<number, unknown>()),
          ...sideTargets.map((i) => serverSideOnce(item, i)),
        ]);
        for (const [i, e] of streamed) failures.set(i, e);
        const fallback: number[] = [];
        sideTargets.forEach((i, j) => {
          const e = side[j];
          if (e === undefined) return;
          if (isMcmlError(e) && e.code === 'UNSUPPORTED') {
            noServerSide.add(i);
            fallback.push(i);
            emit({ type: 'fallback', destination: destinations[i]!.uri, error: e.message });
          } else failures.set(i, e);
        });
        if (fallback.length > 0) {
          // Not an attempt: stream to these now, and retry the others' failures as usual.
          const streamedNow = await streamOnce(item, fallback);
          for (const [i, e] of streamedNow) failures.set(i, e);
        }
        if (failures.size === 0) break;
        const retry = [...failures].filter(([, e]) => describe(e).retryable);
        for (const [i, e] of failures)
          if (!describe(e).retryable || attempt >= attempts) fail(item.key, i, e);
        if (retry.length === 0 || attempt >= attempts) break;
        const delay = backoff(attempt);
        emit({
          type: 'retry',
          key: item.key,
          attempt,
          delayMs: Math.round(delay),
          error: describe(retry[0]![1]).message,
        });
        await sleep(delay);
        const again = new Set(retry.map(([i]) => i));
        streamTargets = streamTargets.filter((i) => again.has(i));
        sideTargets = sideTargets.filter((i) => again.has(i));
      }
      emit({ type: 'object-done', key: item.key });
    },
    options.signal,
  );

  lap('transfer');

  // 6. Deletes, only where every copy succeeded (never delete after a partial sync).
  if (options.delete) {
    for (let i = 0; i < destinations.length; i++) {
      if (reports[i]!.failed.length > 0) continue;
      await pool(diffs[i]!.extra, transfers, async (extra) => {
        try {
          await destinations[i]!.delete(extra.key);
          reports[i]!.deleted++;
          emit({ type: 'deleted', key: extra.key, destination: destinations[i]!.uri });
        } catch (error) {
          fail(extra.key, i, error);
        }
      });
    }
  }

  lap('delete');
  return {
    ...base,
    dryRun: false,
    objectsRead,
    bytesRead,
    destinations: reports,
    durationMs: now() - started,
    timings,
    bytesResumed,
    ok: reports.every((r) => r.failed.length === 0),
  };
}
