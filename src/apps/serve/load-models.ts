/**
 * The loading phase of `mcml serve`: each model fetched (cached by hash), opened on its
 * device, warmed up with one inference, and given its batcher and metrics.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McmlError } from '../../core/errors.js';
import { Batcher } from './batcher.js';
import type { Served } from './inference.js';
import type { ServeMetrics } from './metrics.js';
import { downloadLogger } from './download-log.js';
import { fetchModel, type ModelSpec, type ResolveStore } from './model-source.js';
import { openModel, warmupInputs, type LoadedModel } from './model.js';
import type { Device } from './session.js';

export interface LoadOptions {
  cacheDir: string;
  /** Where model files' sha256 is remembered across starts; undefined: read every start. */
  hashIndexDir?: string | undefined;
  /** Ranged GETs in flight per large model object downloaded (default 1). */
  downloadStreams?: number | undefined;
  resolveStore?: ResolveStore | undefined;
  worker?: boolean | undefined;
  intraOpThreads: number;
  device: Device;
  maxBatch: number;
  batchDelayMs: number;
  maxQueue: number;
}

/**
 * Loads and warms one model. `opened` receives the model as soon as it is open, so the
 * caller can release it if a later step fails; `receiving` counts its requests being read.
 * @throws McmlError INVALID_ARGUMENT when the warm-up inference fails.
 */
export async function loadModel(
  spec: ModelSpec,
  o: LoadOptions,
  metrics: ServeMetrics,
  log: Logger,
  opened: (model: LoadedModel) => void,
  receiving: () => number,
): Promise<Served> {
  const t0 = performance.now();
  const local = await fetchModel(spec, {
    cacheDir: o.cacheDir,
    resolveStore: o.resolveStore,
    hashIndexDir: o.hashIndexDir,
    downloadStreams: o.downloadStreams,
    onDownload: downloadLogger(log, spec.name),
  });
  const model = await openModel(spec.name, spec.uri, local.path, local.sha256, {
    ...(o.worker === undefined ? {} : { worker: o.worker }),
    intraOpThreads: o.intraOpThreads,
    device: o.device,
  });
  opened(model);
  metrics.device.set({ model: spec.name, device: model.device, requested: o.device }, 1);
  if (model.fallback !== undefined) {
    log.warn(
      { model: spec.name, requested: o.device, reason: model.fallback },
      'the requested execution provider is unavailable; running on the CPU',
    );
  }
  try {
    await model.run(warmupInputs(model));
  } catch (error) {
    throw new McmlError('INVALID_ARGUMENT', `model "${spec.name}": warm-up inference failed`, {
      cause: error,
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  metrics.modelLoadSeconds.set({ model: spec.name }, seconds);
  metrics.modelReady.set({ model: spec.name }, 1);
  const served = {
    model,
    batcher: batcherFor(spec.name, model, o, metrics, receiving),
    receiving: 0,
  };
  metrics.queueDepth.set({ model: spec.name }, 0);
  log.info(
    {
      model: spec.name,
      source: spec.uri,
      sha256: local.sha256,
      cached: local.cached,
      sha256From: local.sha256From,
      batchable: model.batchable,
      thread: model.thread,
      device: model.device,
      inputs: model.inputs,
      outputs: model.outputs,
      seconds: +seconds.toFixed(3),
    },
    'model ready',
  );
  return served;
}

function batcherFor(
  name: string,
  model: LoadedModel,
  o: LoadOptions,
  metrics: ServeMetrics,
  receiving: () => number,
): Batcher {
  const queueDepth = metrics.queueDepth.labels({ model: name });
  return new Batcher(
    (inputs) => model.run(inputs),
    {
      maxBatch: o.maxBatch,
      maxDelayMs: o.batchDelayMs,
      maxQueue: o.maxQueue,
      pendingArrivals: receiving,
      // One batch at a time: a second one in flight halves the batches (measured: rows per
      // call 27 -> 16 at c=64) and costs more per row than the worker ever waits.
      maxInFlight: 1,
    },
    {
      batch: (rows, _requests, secs) => {
        metrics.batchSize.observe({ model: name }, rows);
        metrics.inferenceDuration.observe({ model: name }, secs);
      },
      queueDepth: (depth) => queueDepth.set(depth),
    },
    model.batchable,
  );
}
