/**
 * The sync engine: list every side once, diff (src/core/sync), settle what the listings
 * cannot with one stat, then transfer with a bounded pool. Each source object is read once
 * and streamed to every destination that needs it (fan-out); the sha256 computed while
 * streaming must equal what each destination stored. Retries back off on throttling, 5xx
 * and network errors. Library code: it emits events and returns a report, it never prints.
 */
import { McmlError } from '../../core/errors.js';
import { diffListings, fanOut, settleUnknown, type DestinationDiff } from '../../core/sync/diff.js';
import { isInside, parseStorageUri, redactUri } from '../../core/storage-uri.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { pool } from '../../core/pool.js';
import { backoff, describeFailure } from './attempts.js';
import { definedOnly, recordFailure, transferAll, type TransferState } from './transfer.js';
import type { DestinationReport, SyncOptions, SyncReport, SyncRun } from './types.js';

export type { DestinationReport, SyncEvent, SyncOptions, SyncReport } from './types.js';

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

/** Synchronises `source` into every destination. See the file comment. */
export async function runSync(options: SyncOptions): Promise<SyncReport> {
  if (options.destinations.length === 0) throw new McmlError('USAGE', 'no destination given');
  const started = (options.now ?? Date.now)();
  // 1. Open and list every side at once, each as soon as it is open.
  const { stores, lists } = await openAndList(options);
  const run = startRun(options, stores);
  const { timings, lap } = phaseTimer(run, started);
  const [srcList, ...dstLists] = lists;
  const srcByKey = new Map(srcList!.map((o) => [o.key, o]));

  // 2. Diff, and settle what the listings cannot.
  const { diffs, statted } = await diffAndSettle(run, srcList!, srcByKey, dstLists);
  lap('settle');

  // 3. Guard deletes before any byte moves, and announce the plan.
  if (options.delete) guardDeletes(run, srcList!.length, diffs);
  const items = fanOut(diffs);
  const reports = newReports(run, diffs);
  announce(run, items, diffs);
  const base = { source: run.source.uri, sourceObjects: srcList!.length, statted, timings };
  if (options.dryRun) return dryRunReport(run, diffs, reports, base, run.now() - started);

  // 4.-6. Clean up, transfer, delete.
  const state: TransferState = {
    run,
    srcByKey,
    reports,
    objectsRead: 0,
    bytesRead: 0,
    bytesResumed: 0,
    noServerSide: new Set(),
  };
  await moveObjects(state, items, diffs, lap);
  return {
    ...base,
    dryRun: false,
    objectsRead: state.objectsRead,
    bytesRead: state.bytesRead,
    destinations: reports,
    durationMs: run.now() - started,
    bytesResumed: state.bytesResumed,
    ok: reports.every((r) => r.failed.length === 0),
  };
}

type PhaseTimings = {
  list: number;
  settle: number;
  clean: number;
  transfer: number;
  delete: number;
};

/** The time each phase took; `lap(phase)` adds the time since the previous lap to `phase`. */
function phaseTimer(run: SyncRun, started: number) {
  const timings: PhaseTimings = {
    list: run.now() - started,
    settle: 0,
    clean: 0,
    transfer: 0,
    delete: 0,
  };
  let mark = run.now();
  const lap = (phase: keyof PhaseTimings) => {
    const t = run.now();
    timings[phase] += t - mark;
    mark = t;
  };
  return { timings, lap };
}

/** Diffs the source listing against each destination's, then settles what they cannot. */
function diffAndSettle(
  run: SyncRun,
  srcList: ObjectInfo[],
  srcByKey: Map<string, ObjectInfo>,
  dstLists: ObjectInfo[][],
): Promise<{ diffs: DestinationDiff[]; statted: number }> {
  const { include, exclude } = run.options;
  const filter = {
    ...(include ? { include } : {}),
    ...(exclude ? { exclude } : {}),
  };
  const rawDiffs = dstLists.map((l) => diffListings(srcList, l, filter));
  return settle(run, srcByKey, dstLists, rawDiffs);
}

/** Steps 4 to 6 of a real run: remove leftovers, transfer, then delete extras. */
async function moveObjects(
  state: TransferState,
  items: ReturnType<typeof fanOut>,
  diffs: DestinationDiff[],
  lap: (phase: keyof PhaseTimings) => void,
): Promise<void> {
  const { run, reports } = state;
  // 4. Leftovers of interrupted earlier runs go first: nobody will finish them.
  await removeAbandoned(run, reports);
  lap('clean');

  // 5. Transfer: one read per object, fanned out to the destinations that need it.
  await transferAll(state, items);
  lap('transfer');

  // 6. Deletes, only where every copy succeeded (never delete after a partial sync).
  if (run.options.delete) await deleteExtras(state, diffs);
  lap('delete');
}

/** The plan, as an event: objects and bytes to read, copies and deletes to make. */
function announce(run: SyncRun, items: ReturnType<typeof fanOut>, diffs: DestinationDiff[]): void {
  run.emit({
    type: 'planned',
    objects: items.length,
    bytes: items.reduce((a, b) => a + b.size, 0),
    copies: diffs.reduce((a, d) => a + d.copy.length, 0),
    deletes: run.options.delete ? diffs.reduce((a, d) => a + d.extra.length, 0) : 0,
  });
}

/** A dry run's report: what each destination would get and lose; nothing moved. */
function dryRunReport(
  run: SyncRun,
  diffs: DestinationDiff[],
  reports: DestinationReport[],
  base: Pick<SyncReport, 'source' | 'sourceObjects' | 'statted' | 'timings'>,
  durationMs: number,
): SyncReport {
  diffs.forEach((d, i) => {
    reports[i]!.wouldCopy = d.copy;
    reports[i]!.wouldDelete = run.options.delete ? d.extra.map((e) => e.key) : [];
  });
  return {
    ...base,
    dryRun: true,
    objectsRead: 0,
    bytesRead: 0,
    destinations: reports,
    durationMs,
    bytesResumed: 0,
    ok: true,
  };
}

/** The options with their defaults; refuses a run whose sides overlap. */
function startRun(options: SyncOptions, [source, ...destinations]: ObjectStore[]): SyncRun {
  checkOverlap(source!, destinations);
  return {
    options,
    source: source!,
    destinations,
    transfers: Math.max(1, options.transfers ?? 16),
    ...retrySettings(options),
    emit: (e) => options.onEvent?.(e),
    now: options.now ?? (() => Date.now()),
  };
}

/** Attempts per listing or object, and the wait between them. */
function retrySettings(options: SyncOptions): Pick<SyncRun, 'attempts' | 'sleep'> {
  return {
    attempts: Math.max(1, options.attempts ?? 5),
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
  };
}

/**
 * Opens (where a side is still opening) and lists every side, each listing starting as soon as
 * its side is open. The first failure stops the other listings and is thrown.
 */
async function openAndList(
  options: SyncOptions,
): Promise<{ stores: ObjectStore[]; lists: ObjectInfo[][] }> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const retry = { ...retrySettings(options), signal };
  const sides = [options.source, ...options.destinations].map(async (opening, i) => {
    const store = await opening;
    // A source that cannot be read must fail the sync, never read as "no objects".
    return { store, list: await listWithRetry(store, i === 0, retry) };
  });
  try {
    const done = await Promise.all(sides);
    return { stores: done.map((d) => d.store), lists: done.map((d) => d.list) };
  } catch (error) {
    stop.abort();
    await Promise.allSettled(sides);
    throw error;
  }
}

/** Lists one side completely, retrying what may pass on another try. */
async function listWithRetry(
  store: ObjectStore,
  mustExist: boolean,
  retry: { attempts: number; sleep: (ms: number) => Promise<void>; signal: AbortSignal },
): Promise<ObjectInfo[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listAll(store, {
        hashes: true,
        ...(mustExist ? { mustExist: true } : {}),
        signal: retry.signal,
      });
    } catch (error) {
      if (retry.signal.aborted || !describeFailure(error).retryable || attempt >= retry.attempts)
        throw error;
      await retry.sleep(backoff(attempt));
    }
  }
}

/** Settles the objects the listings could not compare: one stat per side lacking a hash. */
async function settle(
  run: SyncRun,
  srcByKey: Map<string, ObjectInfo>,
  dstLists: ObjectInfo[][],
  diffs: DestinationDiff[],
): Promise<{ diffs: DestinationDiff[]; statted: number }> {
  const { source, destinations, transfers } = run;
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

/** Refuses, before anything moves, a --delete that would empty a destination or remove too much. */
function guardDeletes(run: SyncRun, sourceObjects: number, diffs: DestinationDiff[]): void {
  const { source, destinations } = run;
  const maxDelete = run.options.maxDelete ?? DEFAULT_MAX_DELETE;
  diffs.forEach((d, i) => {
    if (d.extra.length > 0 && sourceObjects === 0)
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

function newReports(run: SyncRun, diffs: DestinationDiff[]): DestinationReport[] {
  return run.destinations.map((d, i) => ({
    uri: d.uri,
    copied: 0,
    bytesWritten: 0,
    serverSide: 0,
    unchanged: diffs[i]!.same.length,
    deleted: 0,
    abandonedRemoved: 0,
    failed: [],
  }));
}

/** Removes what interrupted earlier writes left at each destination (abandoned uploads). */
async function removeAbandoned(run: SyncRun, reports: DestinationReport[]): Promise<void> {
  await Promise.all(
    run.destinations.map(async (d, i) => {
      if (!d.cleanAbandoned) return;
      for (const a of await d.cleanAbandoned()) {
        reports[i]!.abandonedRemoved++;
        run.emit({
          type: 'abandoned-removed',
          key: a.key,
          destination: d.uri,
          ...(a.size !== undefined ? { size: a.size } : {}),
        });
      }
    }),
  );
}

/** Deletes the destination objects absent from the source, where every copy succeeded. */
async function deleteExtras(state: TransferState, diffs: DestinationDiff[]): Promise<void> {
  const { run, reports } = state;
  for (let i = 0; i < run.destinations.length; i++) {
    if (reports[i]!.failed.length > 0) continue;
    await pool(diffs[i]!.extra, run.transfers, async (extra) => {
      try {
        await run.destinations[i]!.delete(extra.key);
        reports[i]!.deleted++;
        run.emit({ type: 'deleted', key: extra.key, destination: run.destinations[i]!.uri });
      } catch (error) {
        recordFailure(state, extra.key, i, error);
      }
    });
  }
}
