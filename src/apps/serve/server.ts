/**
 * The inference server behind `mcml serve`: node:http, the Open Inference Protocol v2 (KServe
 * v2 / Triton REST) with the binary tensor extension, KServe v1 `:predict`, `/health` and
 * Prometheus `/metrics`. Not ready until every model is loaded and warmed up; `close()` drains.
 */
import { constants } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { McmlError, httpStatusFor, isMcmlError } from '../../core/errors.js';
import { Batcher } from './batcher.js';
import { ServeMetrics, type DeploymentLabels } from './metrics.js';
import { openModel, warmupInputs, type LoadedModel } from './model.js';
import type { Device } from './session.js';
import { fetchModel, type ModelSpec, type ResolveStore } from './model-source.js';
import { decodeV2Request, toBytes, toJsonData, type Tensor } from './tensor.js';
import { decodeV1Request, encodeV1Response } from './v1.js';

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

interface Served {
  model: LoadedModel;
  batcher: Batcher;
  /** Infer requests whose body is still being read or decoded. */
  receiving: number;
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

/** Throws 401 unless the request carries the bearer token (compared in constant time). */
function authorize(req: IncomingMessage, token: string): void {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  const given = Buffer.from(m?.[1]?.trim() ?? '');
  const want = Buffer.from(token);
  if (given.length === want.length && timingSafeEqual(given, want)) return;
  req.resume();
  throw new HttpError(
    401,
    m ? 'the bearer token is not valid' : 'this endpoint needs Authorization: Bearer <token>',
    { 'WWW-Authenticate': 'Bearer realm="mcml"' },
  );
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The client went away before its request was read: nobody to answer (logged as 499). */
class ClientGone extends Error {}

/** Status recorded for requests whose client closed the connection first (as nginx does). */
const CLIENT_CLOSED = 499;

/** One path segment, percent-decoded; a malformed escape is the client's error (400). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'the request path has a malformed percent-escape');
  }
}

/**
 * The path of a request target: origin-form (`/v2?x`) or absolute-form
 * (`http://host/v2`, which HTTP/1.1 servers must accept); anything else (`*`) has no path.
 */
function targetPath(target: string): string {
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length) || '/';
  return path;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(
          new McmlError('UNAVAILABLE', `port ${port} on ${host} is already in use`, {
            hint: 'stop the other process or pass another --port',
          }),
        );
      } else if (error.code === 'EACCES') {
        reject(new McmlError('PERMISSION_DENIED', `not allowed to listen on ${host}:${port}`));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        // The address given is not one of this machine's: the input is wrong, not the world.
        reject(
          new McmlError(
            'INVALID_ARGUMENT',
            error.code === 'ENOTFOUND'
              ? `cannot listen on ${host}: no such host name`
              : `cannot listen on ${host}: it is not an address of this machine`,
            {
              hint: "pass --host 0.0.0.0 (every interface), 127.0.0.1, or one of this machine's addresses",
            },
          ),
        );
      } else {
        reject(new McmlError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${error.message}`));
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Starts the server: listens (live), loads and warms every model, then reports ready. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const o = { ...DEFAULTS, ...options };
  if (o.models.length === 0) {
    throw new McmlError('USAGE', 'no model to serve', {
      hint: 'pass --model NAME=PATH (repeatable) or set MODEL_PATH',
    });
  }
  const names = new Set<string>();
  for (const m of o.models) {
    if (names.has(m.name)) throw new McmlError('USAGE', `model name "${m.name}" is used twice`);
    names.add(m.name);
  }
  const log = o.logger;
  const metrics = new ServeMetrics(o.labels, { processMetrics: o.processMetrics ?? true });
  const served = new Map<string, Served>();
  let ready = false;
  let draining = false;
  let inFlight = 0;
  /** Responses not yet finished: they learn of a drain through `Connection: close`. */
  const responses = new Set<ServerResponse>();
  /** Called while draining whenever a request finishes or a connection closes. */
  let drainProgress: (() => void) | undefined;
  const debug = log.isLevelEnabled('debug');
  const version = o.version ?? 'dev';

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 }, (req, res) => {
    inFlight++;
    responses.add(res);
    const started = performance.now();
    let route = 'unknown';
    res.once('close', () => {
      inFlight--;
      responses.delete(res);
      const seconds = (performance.now() - started) / 1000;
      const method = req.method ?? 'GET';
      // Closed before the response was complete: the client hung up (or a drain timed out).
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      metrics.observeRequest(route, method, status, seconds);
      if (debug) {
        log.debug(
          { method, url: req.url, route, status, ms: +(seconds * 1000).toFixed(3) },
          'request',
        );
      }
      drainProgress?.();
    });
    if (draining) res.setHeader('Connection', 'close');
    handle(req, res, (r) => (route = r)).catch((error: unknown) => sendError(req, res, error));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => {
      sockets.delete(s);
      drainProgress?.();
    });
  });

  function sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string | number> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function sendError(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (error instanceof ClientGone || res.destroyed || req.socket.destroyed) {
      // Nobody to answer; not a server failure either (recorded as 499 when it closes).
      res.destroy();
      return;
    }
    let status: number;
    let message: string;
    let headers: Record<string, string> = {};
    if (error instanceof HttpError) {
      status = error.status;
      message = error.message;
      headers = error.headers;
    } else if (isMcmlError(error)) {
      status = httpStatusFor(error);
      message = error.message;
      if (status === 503) headers = { 'Retry-After': '1' };
    } else {
      status = 500;
      message = 'internal error';
      log.error({ err: error }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, { error: message }, headers);
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = o.maxBodyBytes;
    const tooLarge = () =>
      new HttpError(413, `request body exceeds the limit of ${limit} bytes`, {
        Connection: 'close',
      });
    const declared = Number(req.headers['content-length'] ?? NaN);
    const discard = () => {
      // Read and drop the rest so the client sees the 413 instead of a reset, within reason.
      let dropped = 0;
      req.on('data', (c: Buffer) => {
        dropped += c.length;
        if (dropped > 16 * limit) req.destroy();
      });
      req.resume();
    };
    if (Number.isFinite(declared) && declared > limit) {
      discard();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    return new Promise<Buffer>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.off('data', onData);
          discard();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () =>
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)),
      );
      req.once('error', () => reject(new ClientGone()));
      req.once('close', () => {
        if (!req.complete) reject(new ClientGone());
      });
    });
  }

  function parseJson(bytes: Buffer): unknown {
    if (bytes.length > constants.MAX_STRING_LENGTH) {
      throw new HttpError(
        413,
        'a JSON body this large cannot be parsed; use the binary data extension',
      );
    }
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (error) {
      throw new HttpError(400, `malformed JSON: ${(error as Error).message}`);
    }
  }

  function lookup(name: string): Served {
    const s = served.get(name);
    if (s) return s;
    if (names.has(name)) {
      throw new HttpError(503, `model "${name}" is still loading`, { 'Retry-After': '1' });
    }
    throw new HttpError(
      404,
      `unknown model "${name}"; this server serves: ${[...names].join(', ')}`,
    );
  }

  function modelMetadata(m: LoadedModel) {
    return {
      name: m.name,
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: m.inputs,
      outputs: m.outputs,
      parameters: { sha256: m.sha256, source: m.source, batchable: m.batchable },
    };
  }

  function allowMethod(req: IncomingMessage, method: string): void {
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
      throw new HttpError(405, `${req.method} is not allowed here; use ${method}`, {
        Allow: method,
      });
    }
  }

  /**
   * Reads and decodes a request, then queues its inputs. While it is being read it counts as
   * an arrival the batcher may wait for; it stops counting the moment it is queued (or fails).
   */
  async function receive<T>(
    s: Served,
    decode: () => Promise<T>,
    inputsOf: (decoded: T) => Tensor[],
  ): Promise<{ decoded: T; outputs: Promise<Tensor[]> }> {
    s.receiving++;
    let decoded: T;
    try {
      decoded = await decode();
    } catch (error) {
      s.receiving--;
      // A batch waiting for this request can go now.
      if (s.receiving === 0) s.batcher.wake();
      throw error;
    }
    s.receiving--;
    const outputs = s.batcher.submit(inputsOf(decoded));
    if (s.receiving === 0) s.batcher.wake();
    return { decoded, outputs };
  }

  async function decodeV2(req: IncomingMessage, s: Served) {
    const body = await readBody(req);
    const headerLength = req.headers['inference-header-content-length'];
    let header: unknown;
    let binary: Buffer | undefined;
    if (headerLength !== undefined) {
      const n = Number(headerLength);
      if (!Number.isInteger(n) || n < 0 || n > body.length) {
        throw new HttpError(
          400,
          'Inference-Header-Content-Length is not a valid length for this body',
        );
      }
      header = parseJson(body.subarray(0, n));
      binary = body.subarray(n);
    } else {
      header = parseJson(body);
    }
    return decodeV2Request(header, binary, s.model.inputs, s.model.outputs);
  }

  async function inferV2(req: IncomingMessage, res: ServerResponse, s: Served): Promise<void> {
    const { decoded: request, outputs: pending } = await receive(
      s,
      () => decodeV2(req, s),
      (r) => r.inputs,
    );
    const outputs = await pending;
    const wanted =
      request.outputs ??
      s.model.outputs.map((o) => ({
        name: o.name,
        binary: request.binaryOutputs,
      }));
    const chunks: Buffer[] = [];
    const outs = wanted.map((w) => {
      const t = outputs.find((x) => x.name === w.name)!;
      if (w.binary) {
        const bytes = toBytes(t.data);
        chunks.push(bytes);
        return {
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          parameters: { binary_data_size: bytes.length },
        };
      }
      return {
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        data: toJsonData(t.data, t.datatype, t.name, true),
      };
    });
    const response = {
      model_name: s.model.name,
      model_version: '1',
      ...(request.id !== undefined ? { id: request.id } : {}),
      outputs: outs,
    };
    if (chunks.length === 0) {
      sendJson(res, 200, response);
      return;
    }
    const json = Buffer.from(JSON.stringify(response));
    const payload = Buffer.concat([json, ...chunks]);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': json.length,
      'Content-Length': payload.length,
    });
    res.end(payload);
  }

  async function predictV1(req: IncomingMessage, res: ServerResponse, s: Served): Promise<void> {
    const { outputs: pending } = await receive(
      s,
      async () => decodeV1Request(parseJson(await readBody(req)), s.model.inputs),
      (inputs) => inputs,
    );
    const outputs = await pending;
    sendJson(res, 200, encodeV1Response(outputs));
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    setRoute: (route: string) => void,
  ): Promise<void> {
    const path = targetPath(req.url ?? '/');

    if (path === '/health' || path === '/healthz') {
      setRoute('/health');
      allowMethod(req, 'GET');
      const body = {
        status: ready ? 'ok' : draining ? 'draining' : 'loading',
        ...o.labels,
        models: [...served.keys()],
        version,
      };
      sendJson(res, ready ? 200 : 503, body);
      return;
    }
    if (path === '/metrics') {
      setRoute('/metrics');
      allowMethod(req, 'GET');
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (path === '/v2' || path === '/v2/') {
      setRoute('/v2');
      allowMethod(req, 'GET');
      sendJson(res, 200, { name: 'mcml', version, extensions: ['binary_tensor_data'] });
      return;
    }
    if (path === '/v2/health/live') {
      setRoute('/v2/health/live');
      allowMethod(req, 'GET');
      sendJson(res, 200, { live: true });
      return;
    }
    if (path === '/v2/health/ready') {
      setRoute('/v2/health/ready');
      allowMethod(req, 'GET');
      sendJson(res, ready ? 200 : 503, { ready });
      return;
    }
    if (o.authToken !== undefined && /^\/v[12]\/models(\/|$)/.test(path)) {
      setRoute('unauthorized');
      authorize(req, o.authToken);
    }
    // /v2/models/{name}[/versions/{v}][/ready|/infer]
    const v2 = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
    if (v2) {
      const name = decodeSegment(v2[1]!);
      const version = v2[2] === undefined ? undefined : decodeSegment(v2[2]);
      const action = v2[3];
      setRoute(`/v2/models/:model${action ?? ''}`);
      const s = lookup(name);
      if (version !== undefined && version !== '1') {
        throw new HttpError(404, `model "${name}" has no version "${version}"; it has: 1`);
      }
      if (action === '/infer') {
        allowMethod(req, 'POST');
        await inferV2(req, res, s);
      } else if (action === '/ready') {
        allowMethod(req, 'GET');
        sendJson(res, ready ? 200 : 503, { name, ready });
      } else {
        allowMethod(req, 'GET');
        sendJson(res, 200, modelMetadata(s.model));
      }
      return;
    }
    const v1 = /^\/v1\/models\/([^/:]+)(:predict)?$/.exec(path);
    if (v1) {
      const name = decodeSegment(v1[1]!);
      setRoute(v1[2] ? '/v1/models/:model:predict' : '/v1/models/:model');
      const s = lookup(name);
      if (v1[2]) {
        allowMethod(req, 'POST');
        await predictV1(req, res, s);
      } else {
        allowMethod(req, 'GET');
        sendJson(res, 200, { name, ready });
      }
      return;
    }
    throw new HttpError(404, `no such endpoint: ${req.method} ${path}`);
  }

  await listen(server, o.port, o.host);
  const address = server.address() as AddressInfo;
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  log.info({ url, port: address.port }, 'listening; loading models');

  const loaded: LoadedModel[] = [];
  const shutdownServer = async () => {
    server.close();
    for (const s of sockets) s.destroy();
    await Promise.all(loaded.map((m) => m.close().catch(() => undefined)));
  };
  try {
    for (const spec of o.models) {
      const t0 = performance.now();
      const local = await fetchModel(spec, {
        cacheDir: o.cacheDir,
        resolveStore: o.resolveStore,
      });
      const model = await openModel(spec.name, spec.uri, local.path, local.sha256, {
        ...(o.worker === undefined ? {} : { worker: o.worker }),
        intraOpThreads: o.intraOpThreads,
        device: o.device ?? 'cpu',
      });
      loaded.push(model);
      metrics.device.set(
        { model: spec.name, device: model.device, requested: o.device ?? 'cpu' },
        1,
      );
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
      const queueDepth = metrics.queueDepth.labels({ model: spec.name });
      const batcher = new Batcher(
        (inputs) => model.run(inputs),
        {
          maxBatch: o.maxBatch,
          maxDelayMs: o.batchDelayMs,
          maxQueue: o.maxQueue,
          pendingArrivals: () => served.get(spec.name)?.receiving ?? 0,
          // One batch at a time: a second one in flight halves the batches (measured: rows per
          // call 27 -> 16 at c=64) and costs more per row than the worker ever waits.
          maxInFlight: 1,
        },
        {
          batch: (rows, _requests, secs) => {
            metrics.batchSize.observe({ model: spec.name }, rows);
            metrics.inferenceDuration.observe({ model: spec.name }, secs);
          },
          queueDepth: (depth) => queueDepth.set(depth),
        },
        model.batchable,
      );
      metrics.queueDepth.set({ model: spec.name }, 0);
      served.set(spec.name, { model, batcher, receiving: 0 });
      log.info(
        {
          model: spec.name,
          source: spec.uri,
          sha256: local.sha256,
          cached: local.cached,
          batchable: model.batchable,
          thread: model.thread,
          device: model.device,
          inputs: model.inputs,
          outputs: model.outputs,
          seconds: +seconds.toFixed(3),
        },
        'model ready',
      );
    }
  } catch (error) {
    await shutdownServer();
    throw error;
  }
  ready = true;
  metrics.ready.set(1);
  log.info(
    {
      url,
      models: [...served.keys()],
      devices: Object.fromEntries([...served].map(([name, s]) => [name, s.model.device])),
    },
    'ready',
  );

  /**
   * Resolves true once no request is in flight and every connection has closed or has had
   * `graceMs` to bring one; false when `timeoutMs` passes first.
   */
  const drained = (graceMs: number, timeoutMs: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      let graceOver = false;
      const finish = (clean: boolean) => {
        drainProgress = undefined;
        clearTimeout(grace);
        clearTimeout(deadline);
        resolve(clean);
      };
      const check = () => {
        if (inFlight === 0 && (sockets.size === 0 || graceOver)) finish(true);
      };
      const grace = setTimeout(() => {
        graceOver = true;
        check();
      }, graceMs);
      const deadline = setTimeout(() => finish(false), timeoutMs);
      drainProgress = check;
      check();
    });

  let closing: Promise<boolean> | undefined;
  const close = (): Promise<boolean> => {
    closing ??= (async () => {
      ready = false;
      draining = true;
      metrics.ready.set(0);
      log.info({ inFlight, connections: sockets.size }, 'draining');
      // Stop accepting. http.Server#close would also drop idle keep-alive connections at once
      // (Node >= 19), resetting requests clients are sending on them right now: close only
      // the listening socket, and let open connections bring their last requests.
      NetServer.prototype.close.call(server);
      for (const res of responses) {
        if (!res.headersSent) res.setHeader('Connection', 'close');
      }
      const clean = await drained(Math.min(o.drainIdleMs, o.drainTimeoutMs), o.drainTimeoutMs);
      if (!clean) log.warn({ inFlight }, 'drain timeout: closing remaining connections');
      // Now http.Server#close: it drops idle connections and stops its timeout checks.
      server.close();
      for (const s of sockets) s.destroy();
      await Promise.all([...served.values()].map((s) => s.batcher.idle()));
      await Promise.all(loaded.map((m) => m.close().catch(() => undefined)));
      log.info({ clean }, 'stopped');
      return clean;
    })();
    return closing;
  };

  return {
    url,
    port: address.port,
    models: loaded,
    get ready() {
      return ready;
    },
    close,
  };
}
