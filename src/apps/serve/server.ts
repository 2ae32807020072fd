/**
 * The inference server behind `mcml serve`: node:http, the Open Inference Protocol v2 (KServe
 * v2 / Triton REST) with the binary tensor extension, KServe v1 `:predict`, `/health` and
 * Prometheus `/metrics`. Not ready until every model is loaded and warmed up; `close()` drains.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McmlError } from '../../core/errors.js';
import { CLIENT_CLOSED, listen, sendError } from './http.js';
import type { Served } from './inference.js';
import { loadModel } from './load-models.js';
import { ServeMetrics, type DeploymentLabels } from './metrics.js';
import type { LoadedModel } from './model.js';
import type { ModelSpec, ResolveStore } from './model-source.js';
import { router, type Route } from './routes.js';
import type { Device } from './session.js';
import { Traffic } from './traffic.js';

export interface ServeOptions {
  models: ModelSpec[];
  /** Interface to listen on; default 0.0.0.0. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8000. */
  port?: number;
  /** Most rows per session call; 1 disables dynamic batching. Default 32. */
  maxBatch?: number;
  /** Longest a request waits for a batch to fill, ms. Default 2. */
  batchDelayMs?: number;
  /** Most requests waiting per model before 503. Default 256. */
  maxQueue?: number;
  /** Largest request body, bytes. Default 16 MiB. */
  maxBodyBytes?: number;
  /** How long close() waits for in-flight requests, ms. Default 10 000. */
  drainTimeoutMs?: number;
  /**
   * How long close() keeps idle keep-alive connections open so that requests clients are
   * already sending on them get an answer (with `Connection: close`), ms. Default 1 000,
   * never more than the drain timeout.
   */
  drainIdleMs?: number;
  /**
   * onnxruntime intra-op threads per session; 0 lets onnxruntime choose (one per core).
   * Default: one less than the cores, leaving one for the event loop that parses requests.
   */
  intraOpThreads?: number;
  /** "cpu" (default), "cuda" (an error when CUDA cannot load) or "auto" (cuda, else cpu). */
  device?: Device;
  /** Where downloaded models are cached. */
  cacheDir: string;
  /**
   * Where each model file's sha256 is remembered across starts, while the file is unchanged
   * (model-hash.ts); undefined reads every model file at every start.
   */
  hashIndexDir?: string | undefined;
  /**
   * Ranged GETs in flight per large model object downloaded from a store (default 1: one
   * stream; 4 suits the real clouds).
   */
  downloadStreams?: number | undefined;
  /**
   * When set, model routes (/v2/models/…, /v1/models/…) answer 401 unless the request carries
   * `Authorization: Bearer <token>`; health, metrics and /v2 stay open for probes and scrapes.
   */
  authToken?: string | undefined;
  /** Opens object stores for s3://, gs://, az:// model URIs. */
  resolveStore?: ResolveStore | undefined;
  labels: DeploymentLabels;
  logger: Logger;
  /** Collect process metrics (CPU, memory, event loop) too. Default true. */
  processMetrics?: boolean;
  /** Reported by GET /v2 and /health. */
  version?: string;
  /** Run inference on a worker thread per model (default: when the compiled worker exists). */
  worker?: boolean;
}

/** A started server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8000. */
  url: string;
  port: number;
  models: readonly LoadedModel[];
  /** True once every model is warm and until draining starts. */
  readonly ready: boolean;
  /**
   * Readiness goes false and new connections are refused. Requests in flight finish (up to the
   * drain timeout); requests that arrive on connections already open are still answered, with
   * `Connection: close`, until no request is in flight and idle connections have had
   * `drainIdleMs` to send one. Then connections close and sessions are released. Resolves
   * true when everything drained in time.
   */
  close(): Promise<boolean>;
}

const DEFAULTS = {
  host: '0.0.0.0',
  port: 8000,
  maxBatch: 32,
  batchDelayMs: 2,
  maxQueue: 256,
  maxBodyBytes: 16 * 1024 * 1024,
  drainTimeoutMs: 10_000,
  drainIdleMs: 1000,
  intraOpThreads: Math.max(1, availableParallelism() - 1),
};

/** Starts the server: listens (live), loads and warms every model, then reports ready. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const o = { ...DEFAULTS, ...options };
  const names = modelNames(o.models);
  const log = o.logger;
  const metrics = new ServeMetrics(o.labels, { processMetrics: o.processMetrics ?? true });
  const served = new Map<string, Served>();
  const state = { ready: false };
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 });
  const traffic = new Traffic(server);
  const route = router({
    names,
    served,
    get ready() {
      return state.ready;
    },
    get draining() {
      return traffic.isDraining;
    },
    labels: o.labels,
    version: o.version ?? 'dev',
    metrics,
    authToken: o.authToken,
    maxBodyBytes: o.maxBodyBytes,
  });
  server.on('request', requestHandler(route, traffic, metrics, log));

  await listen(server, o.port, o.host);
  const address = server.address() as AddressInfo;
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  log.info({ url, port: address.port }, 'listening; loading models');

  const loaded = await loadAll(o, metrics, served, () => {
    server.close();
    traffic.destroyAll();
  });
  state.ready = true;
  metrics.ready.set(1);
  log.info(
    {
      url,
      models: [...served.keys()],
      devices: Object.fromEntries([...served].map(([name, s]) => [name, s.model.device])),
    },
    'ready',
  );
  const close = closer(o, server, traffic, state, metrics, served, loaded);
  return {
    url,
    port: address.port,
    models: loaded,
    get ready() {
      return state.ready;
    },
    close,
  };
}

/** The set of model names, refusing none and duplicates. */
function modelNames(models: readonly ModelSpec[]): Set<string> {
  if (models.length === 0) {
    throw new McmlError('USAGE', 'no model to serve', {
      hint: 'pass --model NAME=PATH (repeatable) or set MODEL_PATH',
    });
  }
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new McmlError('USAGE', `model name "${m.name}" is used twice`);
    names.add(m.name);
  }
  return names;
}

/** Routes a request, counts it in flight, and records it (route, status, seconds) when it closes. */
function requestHandler(route: Route, traffic: Traffic, metrics: ServeMetrics, log: Logger) {
  const debug = log.isLevelEnabled('debug');
  return (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    let name = 'unknown';
    traffic.track(res, () => {
      const seconds = (performance.now() - started) / 1000;
      const method = req.method ?? 'GET';
      // Closed before the response was complete: the client hung up (or a drain timed out).
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      metrics.observeRequest(name, method, status, seconds);
      if (debug) {
        log.debug(
          { method, url: req.url, route: name, status, ms: +(seconds * 1000).toFixed(3) },
          'request',
        );
      }
    });
    route(req, res, (r) => (name = r)).catch((error: unknown) => sendError(req, res, error, log));
  };
}

/** Loads every model in order; on a failure stops the server, releases what opened, rethrows. */
async function loadAll(
  o: ServeOptions & typeof DEFAULTS,
  metrics: ServeMetrics,
  served: Map<string, Served>,
  stopServer: () => void,
): Promise<LoadedModel[]> {
  const loaded: LoadedModel[] = [];
  const options = { ...o, device: o.device ?? 'cpu' };
  try {
    for (const spec of o.models) {
      const s = await loadModel(
        spec,
        options,
        metrics,
        o.logger,
        (model) => loaded.push(model),
        () => served.get(spec.name)?.receiving ?? 0,
      );
      served.set(spec.name, s);
    }
  } catch (error) {
    stopServer();
    await Promise.all(loaded.map((m) => m.close().catch(() => undefined)));
    throw error;
  }
  return loaded;
}

/**
 * The server's `close()`: readiness off, stop accepting, let requests in flight and on open
 * connections finish (up to the drain timeout), then close connections and release models.
 */
function closer(
  o: ServeOptions & typeof DEFAULTS,
  server: Server,
  traffic: Traffic,
  state: { ready: boolean },
  metrics: ServeMetrics,
  served: ReadonlyMap<string, Served>,
  loaded: readonly LoadedModel[],
): () => Promise<boolean> {
  const log = o.logger;
  let closing: Promise<boolean> | undefined;
  return () => {
    closing ??= (async () => {
      state.ready = false;
      metrics.ready.set(0);
      log.info({ inFlight: traffic.inFlight, connections: traffic.sockets.size }, 'draining');
      // Stop accepting. http.Server#close would also drop idle keep-alive connections at once
      // (Node >= 19), resetting requests clients are sending on them right now: close only
      // the listening socket, and let open connections bring their last requests.
      NetServer.prototype.close.call(server);
      traffic.startDraining();
      const clean = await traffic.drained(
        Math.min(o.drainIdleMs, o.drainTimeoutMs),
        o.drainTimeoutMs,
      );
      if (!clean)
        log.warn({ inFlight: traffic.inFlight }, 'drain timeout: closing remaining connections');
      // Now http.Server#close: it drops idle connections and stops its timeout checks.
      server.close();
      traffic.destroyAll();
      await Promise.all([...served.values()].map((s) => s.batcher.idle()));
      await Promise.all(loaded.map((m) => m.close().catch(() => undefined)));
      log.info({ clean }, 'stopped');
      return clean;
    })();
    return closing;
  };
}
