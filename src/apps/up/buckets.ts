/**
 * Every target's bucket filled before anything starts: the model (read once, written to each
 * bucket, verified) and the data sets the plan sends there, through the sync engine (which
 * keeps each data set inside its jurisdiction).
 */
import { basename, dirname, join } from 'node:path';
import { McmlError } from '../../core/errors.js';
import type { Placement } from '../../core/plan/types.js';
import type { Spec, Target } from '../../core/spec/index.js';
import type { Clock } from '../../ports/clock.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { runDataSync, runSync, type DestinationReport } from '../../engines/sync/index.js';
import type { EventView, SyncView } from '../dashboard/state.js';
import { literalGlob, modelFiles } from './model-files.js';
import type { UpOptions } from './up.js';

/** Where each target's model lives once synced. */
export interface Buckets {
  stores: Map<string, ObjectStore>;
  /** The model's key inside every bucket. */
  modelKey: string;
  /** The model's URI in a target's bucket. */
  modelUri: (target: string) => string;
}

/** Opens every target's bucket and fills it; throws when any copy fails. */
export async function fillBuckets(args: {
  spec: Spec;
  placements: Placement[];
  options: Pick<UpOptions, 'stateDir' | 'openStore' | 'baseDir' | 'jurisdictionOf'>;
  clock: Clock;
  sync: SyncView[];
  addEvent: (e: EventView) => void;
  progress: (m: string) => void;
}): Promise<Buckets> {
  const { spec, placements, options } = args;
  const modelKey = `models/${spec.service.model.name}/${basename(spec.service.model.uri)}`;
  const stores = new Map<string, ObjectStore>();
  const targets = new Map(spec.targets.map((t) => [t.name, t]));
  for (const p of placements) {
    const bucket = bucketOf(targets.get(p.target)!, options.stateDir);
    if (bucket) stores.set(p.target, await options.openStore(bucket));
  }
  await syncBuckets({ ...args, stores, modelKey });
  return {
    stores,
    modelKey,
    modelUri: (target) => stores.get(target)!.uri.replace(/\/?$/, '/') + modelKey,
  };
}

/** A target's bucket: its own, or a directory under the state dir for a local target. */
export function bucketOf(target: Target, stateDir: string): string | undefined {
  if (target.bucket) return target.bucket;
  if (target.provider === 'local') return `file://${join(stateDir, 'buckets', target.name)}`;
  return undefined;
}

interface SyncBucketsArgs {
  spec: Spec;
  placements: Placement[];
  stores: Map<string, ObjectStore>;
  modelKey: string;
  sync: SyncView[];
  addEvent: (e: EventView) => void;
  progress: (m: string) => void;
  options: Pick<UpOptions, 'stateDir' | 'openStore' | 'baseDir' | 'jurisdictionOf'>;
  clock: Clock;
}

/** Records one sync's outcome per target: a sync row and an event. */
type RecordSync = (
  item: string,
  targets: string[],
  reports: (DestinationReport | undefined)[],
) => void;

/** The model and the data sets into every bucket, through the sync engine. */
async function syncBuckets(args: SyncBucketsArgs): Promise<void> {
  const model = await findModel(args.options.openStore, args.spec.service.model.uri);
  const record = syncRecorder(args.sync, args.addEvent, args.clock);
  await syncModel(args, model, record);
  await syncDataSets(args, record);
}

/** The store holding the model and the model's file name in it; NOT_FOUND when it is missing. */
async function findModel(
  openStore: UpOptions['openStore'],
  modelUri: string,
): Promise<{ source: ObjectStore; file: string }> {
  let source: ObjectStore;
  try {
    source = await openStore(parentUri(modelUri));
  } catch (error) {
    throw new McmlError('NOT_FOUND', `cannot open the model's location ${modelUri}`, {
      cause: error,
    });
  }
  const file = basename(modelUri);
  if (!(await source.stat(file))) {
    throw new McmlError('NOT_FOUND', `the model ${modelUri} does not exist`, {
      hint: modelUri.includes('models/iris.onnx')
        ? 'build the sample models with "npm run models"'
        : 'fix service.model.uri in the spec',
    });
  }
  return { source, file };
}

function syncRecorder(
  sync: SyncView[],
  addEvent: (e: EventView) => void,
  clock: Clock,
): RecordSync {
  return (item, targets, reports) => {
    targets.forEach((target, i) => {
      const d = reports[i];
      const failed = d === undefined || d.failed.length > 0;
      const view: SyncView = {
        item,
        target,
        state: failed ? 'failed' : 'done',
        objects: d ? d.copied + d.unchanged : 0,
        bytes: d?.bytesWritten ?? 0,
        at: clock.now(),
        message: !d
          ? 'not synced'
          : d.failed.length > 0
            ? d.failed.map((f) => `${f.key}: ${f.error}`).join('; ')
            : d.copied === 0
              ? 'up to date'
              : `copied ${d.copied} object(s)`,
      };
      sync.push(view);
      addEvent({
        at: view.at!,
        kind: 'sync',
        level: failed ? 'error' : 'ok',
        target,
        message: `${item} → ${target}: ${view.message} (${view.objects} object(s))`,
      });
    });
  };
}

/** The model: read once, written to every target's bucket, verified. */
async function syncModel(
  args: SyncBucketsArgs,
  model: { source: ObjectStore; file: string },
  record: RecordSync,
): Promise<void> {
  const { placements, stores, modelKey, progress, options } = args;
  const modelTargets = placements.filter((p) => stores.has(p.target)).map((p) => p.target);
  progress(`syncing the model to ${modelTargets.join(', ') || 'no target'}`);
  const modelDirs = await Promise.all(
    modelTargets.map((t) => options.openStore(joinUri(stores.get(t)!.uri, dirname(modelKey)))),
  );
  const modelReport = await runSync({
    source: model.source,
    destinations: modelDirs,
    // The model file and the weights it keeps beside it, if it was saved with external data.
    include: (await modelFiles(model)).map(literalGlob),
  });
  record('model', modelTargets, modelReport.destinations);
  if (!modelReport.ok) {
    throw new McmlError('UNAVAILABLE', 'the model could not be copied to every target', {
      details: { destinations: modelReport.destinations },
    });
  }
}

/**
 * Data sets: the sync engine routes each to the targets of its jurisdiction only, and
 * refuses before any byte moves when a bucket lies outside it.
 */
async function syncDataSets(args: SyncBucketsArgs, record: RecordSync): Promise<void> {
  const { spec, progress, options } = args;
  if (spec.data.length === 0) return;
  progress(`syncing data sets ${spec.data.map((d) => d.name).join(', ')}`);
  const withBuckets: Spec = {
    ...spec,
    targets: spec.targets.map((t) => {
      const bucket = bucketOf(t, options.stateDir);
      return bucket ? { ...t, bucket } : t;
    }),
  };
  const reports = await runDataSync({
    spec: withBuckets,
    specDir: options.baseDir,
    lookup: options.jurisdictionOf,
    open: options.openStore,
  });
  for (const r of reports) record(r.dataset, r.targets, r.report?.destinations ?? []);
  if (reports.some((r) => r.report && !r.report.ok)) {
    throw new McmlError('UNAVAILABLE', 'a data set could not be copied to every target');
  }
}

function joinUri(root: string, path: string): string {
  return root.replace(/\/?$/, '/') + path.replace(/^\/+/, '').replace(/\/?$/, '/');
}

function parentUri(uri: string): string {
  const cut = uri.replace(/\/+$/, '').lastIndexOf('/');
  if (cut < 0) return '.';
  const parent = uri.slice(0, cut);
  // "file:///x" → "file://" would lose the root; keep "/" then.
  return /^[a-z0-9]+:\/\/?$/i.test(parent + '/') ? parent + '/' : parent || '/';
}
