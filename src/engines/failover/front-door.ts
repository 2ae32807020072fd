/**
 * The front door: an HTTP reverse proxy on undici connection pools. It asks `route()` which
 * targets may serve a request, sends it to the first and, when that is safe, to the next ones:
 * connect refused or reset before a response, a bad response, 502/503/504. Retry-safe are
 * GET/HEAD/OPTIONS, and POST when `retryPost` (inference is idempotent); their bodies are
 * buffered up to `maxBodyBytes` so they can be sent again. Other bodies stream through.
 *
 * A target that hangs (accepts, never answers) must cost about what a crash costs. So a
 * retry-safe attempt that has no answer within its time limit — a multiple of the target's
 * recent p99, never less than the health check timeout (src/core/failover/latency.ts) — is
 * hedged: the next tier gets the request too and the first answer wins. When the controller
 * declares a target down, its retry-safe attempts still waiting go to the next tier at once.
 *
 * Each attempt is one `Pool.dispatch` with a handler object (undici's native interface): no
 * body stream or promise per request, and answers with a small Content-Length are relayed in
 * one write together with their headers. This is the hot path; see BENCHMARKS.md (failover c).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Transform, pipeline, type Duplex, type Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { LatencyWindow, attemptLimitMs, type Route } from '../../core/failover/index.js';
import { memo } from '../../core/memo.js';
import { clampTimerMs } from './clock.js';
import { describeNetworkError } from './health-checker.js';
import type { FailoverMetrics } from './metrics.js';
import { forwardHeaders, requestPath, responseHeaders } from './proxy-headers.js';
import { classifyUpstreamError, isGatewayStatus } from './upstream-errors.js';

export interface FrontDoorUpstream {
  name: string;
  /** Base URL, e.g. http://10.0.0.1:8000 or https://lb.example.net/prefix. */
  endpoint: string;
  /** Metric label: the cloud the target runs in (default "unknown"). */
  cloud?: string;
}

export interface FrontDoorOptions {
  host: string;
  port: number;
  upstreams: FrontDoorUpstream[];
  maxBodyBytes: number;
  retryPost: boolean;
  jurisdictionHeader: string;
  upstreamTimeoutMs: number;
  connectTimeoutMs?: number;
  /**
   * The shortest time limit of a hedged attempt (default 1000 ms, capped by the upstream
   * timeout): the controller passes the health check timeout.
   */
  attemptFloorMs?: number;
  /** Which targets may serve a request, best first. */
  route: (request: { jurisdiction: string | undefined }) => Route;
  /**
   * Passive health signal: one proxied attempt's outcome. `ok: false` only for what is the
   * target's fault (see upstream-errors.ts); client-caused failures are not reported.
   */
  onOutcome: (target: string, ok: boolean, error?: string) => void;
  /** Handles /_mcml/* requests; the front door answers 404 to them when absent. */
  admin?: (req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>) => void;
  /**
   * Serves a request on the front door's own listener (e.g. a dashboard) before any proxying:
   * return true when it took the request.
   */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Serve on this already listening server instead of opening one (host/port unused). */
  server?: Server;
  metrics?: FailoverMetrics;
  /** An unexpected error while handling a request (a bug); the client gets a bare 500. */
  onInternalError?: (error: unknown) => void;
}

export interface FrontDoor {
  /** http://host:port the front door listens on. */
  url: string;
  port: number;
  /**
   * The target was declared down: its retry-safe attempts still waiting for an answer go to
   * the next tier now instead of waiting for their time limit.
   */
  targetDown(target: string): void;
  close(): Promise<void>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Upstream answers up to this size (with a Content-Length) are relayed in one write. */
const SMALL_BODY_BYTES = 1024 * 1024;

class PayloadTooLarge extends Error {}

function jsonError(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads a request body into memory, refusing more than `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new PayloadTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

interface Upstream {
  name: string;
  cloud: string;
  pool: Pool;
  host: string;
  basePath: string;
  /** Answer times of recent attempts, for the per-attempt time limit. */
  latency: LatencyWindow;
  /** Attempts in flight that have no answer yet. */
  waiting: Set<ProxyAttempt>;
}

/** One client request on its way through the targets. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  method: string;
  started: number;
  jurisdiction: string | undefined;
  /** Targets that may serve it, in order; `next` is the first not tried yet. */
  targets: string[];
  next: number;
  /** Attempts in flight that have not answered. More than one while hedging. */
  live: ProxyAttempt[];
  /** The attempt whose answer goes to the client. */
  winner: ProxyAttempt | undefined;
  /** The client has its answer (or an error), or has gone. */
  settled: boolean;
  failures: string[];
  /** The buffered body of a retry-safe request. */
  body: Buffer | undefined;
  /** The body streams through (not retry-safe): one attempt only. */
  streamBody: boolean;
  retrySafe: boolean;
}

/** The part of an attempt the exchange logic drives (the undici handler implements it). */
interface ProxyAttempt {
  readonly upstream: Upstream;
  /** Went past its time limit without an answer (and was hedged). */
  late: boolean;
  limitMs: number;
  cancel(): void;
}

/** The proxy's metric children, looked up once per label set (the hot path). */
class LabelCache {
  private readonly requests = new Map<string, { inc(): void }>();
  private readonly latency = new Map<string, { observe(v: number): void }>();
  private readonly retries = new Map<string, { inc(): void }>();

  constructor(
    private readonly metrics: FailoverMetrics | undefined,
    private readonly clouds: ReadonlyMap<string, string>,
  ) {}

  request(target: string, code: number, seconds?: number): void {
    const m = this.metrics;
    if (!m) return;
    const cloud = this.clouds.get(target) ?? 'none';
    memo(this.requests, `${target} ${code}`, () =>
      m.proxyRequests.labels({ target, cloud, code: String(code) }),
    ).inc();
    if (seconds === undefined) return;
    memo(this.latency, target, () => m.proxyLatency.labels({ target, cloud })).observe(seconds);
  }

  retry(target: string, reason: string | number): void {
    const m = this.metrics;
    if (!m) return;
    const cloud = this.clouds.get(target) ?? 'none';
    memo(this.retries, `${target} ${reason}`, () =>
      m.proxyRetries.labels({ target, cloud, reason: String(reason) }),
    ).inc();
  }
}

/** Starts the front door; resolves once it listens. */
export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const upstreamTimeoutMs = clampTimerMs(options.upstreamTimeoutMs);
  const pools = new Map<string, Upstream>();
  for (const u of options.upstreams) {
    const url = new URL(u.endpoint);
    pools.set(u.name, {
      name: u.name,
      cloud: u.cloud ?? 'unknown',
      pool: new Pool(url.origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: upstreamTimeoutMs,
        bodyTimeout: upstreamTimeoutMs,
        connect: { timeout: options.connectTimeoutMs ?? 2000 },
      }),
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ''),
      latency: new LatencyWindow(),
      waiting: new Set(),
    });
  }
  const counters = new LabelCache(
    options.metrics,
    new Map([...pools.values()].map((u) => [u.name, u.cloud])),
  );
  const jurisdictionHeader = options.jurisdictionHeader.toLowerCase();
  const attemptFloorMs = clampTimerMs(options.attemptFloorMs ?? 1000);

  const tooLarge = (res: ServerResponse, declared?: number) => {
    res.setHeader('connection', 'close');
    jsonError(res, 413, {
      error: 'payload_too_large',
      message:
        declared === undefined
          ? `request body is over the limit of ${options.maxBodyBytes} bytes`
          : `request body of ${declared} bytes is over the limit of ${options.maxBodyBytes}`,
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    if (options.intercept?.(req, res)) return;
    const path = requestPath(req.url ?? '/');
    if (path === undefined) {
      req.resume();
      jsonError(res, 400, { error: 'bad_request', message: 'the request target is not a path' });
      return;
    }
    if (path.startsWith('/_mcml/')) {
      if (options.admin) options.admin(req, res, () => readBody(req, 1024 * 1024));
      else jsonError(res, 404, { error: 'not_found' });
      return;
    }
    const method = req.method ?? 'GET';
    const lengthHeader = req.headers['content-length'];
    const declared = lengthHeader === undefined ? 0 : Number(lengthHeader);
    if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
      tooLarge(res, declared);
      req.resume();
      return;
    }
    const header = req.headers[jurisdictionHeader];
    const jurisdiction = Array.isArray(header) ? header[0] : header;
    const route = options.route({ jurisdiction: jurisdiction?.trim().toLowerCase() });
    if (!route.ok) {
      req.resume();
      // Asking to stay where no target runs is the client's error, not an outage.
      const status = route.unknownJurisdiction ? 400 : 503;
      counters.request('none', status);
      jsonError(res, status, {
        error: route.unknownJurisdiction ? 'unknown_jurisdiction' : 'no_healthy_target',
        message: route.reason,
      });
      return;
    }
    const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
    const retrySafe = SAFE_METHODS.has(method) || (method === 'POST' && options.retryPost);
    const exchange: Exchange = {
      req,
      res,
      path,
      method,
      started,
      jurisdiction,
      targets: retrySafe ? route.targets : route.targets.slice(0, 1),
      next: 0,
      live: [],
      winner: undefined,
      settled: false,
      failures: [],
      body: undefined,
      streamBody: hasBody && !retrySafe,
      retrySafe,
    };
    // A client that goes away cancels the upstream requests; that is not the targets' fault.
    res.on('close', () => {
      if (res.writableFinished) return;
      exchange.settled = true;
      for (const a of exchange.live) a.cancel();
      exchange.winner?.cancel();
    });
    if (hasBody && retrySafe) {
      readBody(req, options.maxBodyBytes).then(
        (body) => {
          exchange.body = body;
          launch(exchange);
        },
        (error: unknown) => {
          if (error instanceof PayloadTooLarge) tooLarge(res);
          else res.destroy();
        },
      );
      return;
    }
    launch(exchange);
  };

  /** Another attempt could still answer: a live one, or a target not tried yet. */
  const hasFallback = (exchange: Exchange, besides: ProxyAttempt): boolean =>
    exchange.next < exchange.targets.length || exchange.live.some((a) => a !== besides);

  /** Sends the request to the next target not tried yet, or answers 503 when none is left. */
  const launch = (exchange: Exchange): void => {
    const { res } = exchange;
    if (exchange.settled || res.destroyed) return;
    let upstream: Upstream | undefined;
    while (exchange.next < exchange.targets.length && !upstream) {
      upstream = pools.get(exchange.targets[exchange.next++]!);
    }
    if (!upstream) {
      if (exchange.live.length > 0) return; // a hedged attempt may still answer
      exchange.settled = true;
      counters.request('none', 503);
      jsonError(res, 503, {
        error: 'all_targets_failed',
        message:
          `every target${exchange.jurisdiction ? ` in jurisdiction "${exchange.jurisdiction}"` : ''} ` +
          `failed this request: ${exchange.failures.join('; ')}`,
        tried: exchange.targets,
      });
      return;
    }
    const hedgeable = exchange.retrySafe && exchange.next < exchange.targets.length;
    const limitMs = hedgeable
      ? attemptLimitMs(upstream.latency.p99, {
          floorMs: attemptFloorMs,
          ceilingMs: upstreamTimeoutMs,
        })
      : upstreamTimeoutMs;
    const handler = new ProxyHandler(exchange, upstream, limitMs, hedgeable);
    exchange.live.push(handler);
    upstream.waiting.add(handler);
    const body = exchange.streamBody
      ? limitStream(exchange.req, options.maxBodyBytes)
      : (exchange.body ?? null);
    upstream.pool.dispatch(
      {
        path: upstream.basePath + exchange.path,
        method: exchange.method,
        headers: forwardHeaders(exchange.req, upstream.host, exchange.body?.length),
        body,
      },
      handler,
    );
  };

  /**
   * An attempt is out of the race (failed, or its target is down): try the next target unless
   * an attempt still within its time limit may answer.
   */
  const drop = (exchange: Exchange, attempt: ProxyAttempt, reason: string): void => {
    forget(exchange, attempt);
    exchange.failures.push(`${attempt.upstream.name}: ${reason}`);
    if (exchange.live.every((a) => a.late)) launch(exchange);
  };

  const forget = (exchange: Exchange, attempt: ProxyAttempt): void => {
    const i = exchange.live.indexOf(attempt);
    if (i >= 0) exchange.live.splice(i, 1);
    attempt.upstream.waiting.delete(attempt);
  };

  /** `attempt` answers the client: every other attempt is cancelled. */
  const win = (exchange: Exchange, attempt: ProxyAttempt): void => {
    forget(exchange, attempt);
    exchange.winner = attempt;
    exchange.settled = true;
    for (const other of exchange.live) {
      other.cancel();
      // It was hedged and lost: the target did not answer in time, which is its fault.
      if (other.late) {
        options.onOutcome(other.upstream.name, false, `no answer within ${other.limitMs} ms`);
      }
    }
    exchange.live.length = 0;
  };

  /** The request cannot be forwarded as the client sent it: 400, no retry, no blame. */
  const refuse = (exchange: Exchange, attempt: ProxyAttempt, error: Error): void => {
    forget(exchange, attempt);
    for (const other of exchange.live) other.cancel();
    exchange.live.length = 0;
    exchange.settled = true;
    jsonError(exchange.res, 400, {
      error: 'bad_request',
      message: `the request cannot be forwarded: ${error.message}`,
    });
  };

  /** One proxied attempt, as an undici dispatch handler (the pool's native interface). */
  class ProxyHandler implements Dispatcher.DispatchHandler, ProxyAttempt {
    late = false;
    private abort: ((reason?: Error) => void) | undefined;
    private cancelled = false;
    /** A gateway status while another attempt may still answer: read and drop the body. */
    private dropping = false;
    private chunks: Buffer[] | undefined;
    private size = 0;
    private streaming = false;
    private readonly sent = performance.now();
    private timer: NodeJS.Timeout | undefined;

    constructor(
      private readonly exchange: Exchange,
      readonly upstream: Upstream,
      readonly limitMs: number,
      hedgeable: boolean,
    ) {
      if (hedgeable) {
        this.timer = setTimeout(() => this.onLate(), limitMs);
        this.timer.unref();
      }
    }

    cancel(): void {
      this.cancelled = true;
      this.clearTimer();
      this.upstream.waiting.delete(this);
      this.abort?.();
    }

    /** No answer within the limit: the next tier gets the request too. */
    private onLate(): void {
      this.timer = undefined;
      if (this.cancelled || this.exchange.settled) return;
      this.late = true;
      counters.retry(this.upstream.name, 'slow');
      launch(this.exchange);
    }

    /** The target was declared down: give up on it and let the next tier answer. */
    targetDown(): void {
      if (this.cancelled || this.exchange.settled || !this.exchange.retrySafe) return;
      this.cancel();
      counters.retry(this.upstream.name, 'down');
      drop(this.exchange, this, 'target declared down');
    }

    private clearTimer(): void {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
    }

    onConnect(abort: (reason?: Error) => void): void {
      this.abort = abort;
      if (this.cancelled) abort();
    }

    onError(error: Error): void {
      this.clearTimer();
      if (this.cancelled) return;
      const { exchange } = this;
      const { res } = exchange;
      const name = this.upstream.name;
      if (this.streaming || this.chunks !== undefined) {
        // The answer broke after it started: nothing safe to retry; tell the client by closing.
        // A client too slow to read is not the target's fault.
        if (!res.writableNeedDrain && classifyUpstreamError(error) !== 'unknown') {
          options.onOutcome(name, false, describeNetworkError(error));
        }
        res.destroy();
        return;
      }
      if (this.dropping) return;
      if (exchange.streamBody && isTooLarge(error)) {
        forget(exchange, this);
        exchange.settled = true;
        tooLarge(res);
        return;
      }
      if (exchange.req.destroyed && !exchange.req.complete) {
        // The client hung up while its body streamed: its doing, not the target's.
        forget(exchange, this);
        res.destroy();
        return;
      }
      const fault = classifyUpstreamError(error);
      if (fault === 'request') {
        refuse(exchange, this, error);
        return;
      }
      const reason = describeNetworkError(error, this.limitMs);
      // A streamed body is the client's to pace: only a failure to connect is surely the target's.
      if (fault === 'connect' || (fault === 'target' && !exchange.streamBody)) {
        options.onOutcome(name, false, reason);
      }
      if (hasFallback(exchange, this)) counters.retry(name, 'error');
      drop(exchange, this, reason);
    }

    onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
      if (status < 200) return true; // 1xx: undici waits for the final answer
      this.clearTimer();
      if (this.cancelled) return false;
      const { exchange } = this;
      const { res } = exchange;
      const name = this.upstream.name;
      this.upstream.latency.add(performance.now() - this.sent);
      // Only a gateway status says the target cannot serve; any other answer (a 500 for a
      // request the target did not like included) proves it is there and answering.
      const gateway = isGatewayStatus(status);
      options.onOutcome(name, !gateway, gateway ? `HTTP ${status}` : undefined);
      if (gateway && exchange.retrySafe && hasFallback(exchange, this)) {
        // Read and drop the body (the connection stays reusable); another target answers.
        counters.retry(name, status);
        this.dropping = true;
        drop(exchange, this, `HTTP ${status}`);
        return true;
      }
      if (exchange.settled) {
        // Another attempt answered first (or the client left): this one is not needed.
        this.cancel();
        return false;
      }
      win(exchange, this);
      counters.request(name, status, (performance.now() - exchange.started) / 1000);
      const headers = responseHeaders(raw, name);
      let length = -1;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') {
          length = Number(headers[i + 1]);
        }
      }
      try {
        // Small answers (inference results) are relayed in one write with their headers.
        if (length >= 0 && length <= SMALL_BODY_BYTES) {
          res.writeHead(status, headers);
          this.chunks = [];
          return true;
        }
        res.writeHead(status, headers);
        res.flushHeaders();
      } catch {
        // An upstream header Node refuses to send: answer 502 rather than crash.
        this.cancel();
        jsonError(res, 502, { error: 'bad_gateway', target: name, message: 'invalid headers' });
        return false;
      }
      this.streaming = true;
      res.on('drain', resume);
      return true;
    }

    onData(chunk: Buffer): boolean {
      if (this.dropping) return true;
      if (this.chunks) {
        this.chunks.push(chunk);
        this.size += chunk.length;
        return true;
      }
      return this.exchange.res.write(chunk);
    }

    onComplete(): void {
      if (this.cancelled || this.dropping) return;
      const { res } = this.exchange;
      if (this.chunks) {
        res.end(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size));
      } else {
        res.end();
      }
    }
  }

  const targetDown = (target: string): void => {
    const upstream = pools.get(target);
    if (!upstream) return;
    for (const attempt of [...upstream.waiting]) {
      if (attempt instanceof ProxyHandler) attempt.targetDown();
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    try {
      handle(req, res);
    } catch (error) {
      // A bug of ours: the operator hears the details, the client only that it failed.
      options.onInternalError?.(error);
      jsonError(res, 500, {
        error: 'internal_error',
        message: 'the front door could not handle this request',
      });
    }
  };
  const onClientError = (_error: Error, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  };
  // Either the caller's listening server (it keeps owning it) or one of our own.
  const given = options.server;
  const server: Server = given ?? createServer({ keepAliveTimeout: 65_000 });
  server.on('request', onRequest);
  server.on('clientError', onClientError);
  if (!given) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const address = server.address() as AddressInfo;
  const host = given ? address.address : options.host;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    targetDown,
    close: async () => {
      server.off('request', onRequest);
      server.off('clientError', onClientError);
      if (!given) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      // Requests still in flight finish for a moment; a hung target's are then cut.
      await Promise.all(
        [...pools.values()].map(async ({ pool }) => {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((resolve) => {
            timer = setTimeout(() => resolve('late'), 2000);
          });
          const closed = await Promise.race([pool.close(), late]);
          clearTimeout(timer);
          if (closed === 'late') await pool.destroy();
        }),
      );
    },
  };
}

function isTooLarge(error: unknown): boolean {
  let e: unknown = error;
  for (let i = 0; i < 5 && e; i++) {
    if (e instanceof PayloadTooLarge) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Passes a request body through, failing once it is over `max` bytes. */
function limitStream(req: IncomingMessage, max: number): Readable {
  let size = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > max) done(new PayloadTooLarge());
      else done(null, chunk);
    },
  });
  pipeline(req, limiter, () => undefined);
  return limiter;
}
