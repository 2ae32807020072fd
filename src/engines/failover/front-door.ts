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
import type { Duplex } from 'node:stream';
import type { Route } from '../../core/failover/index.js';
import { clampTimerMs } from './clock.js';
import { Race, type Exchange } from './exchange.js';
import { LabelCache } from './label-cache.js';
import type { FailoverMetrics } from './metrics.js';
import { PayloadTooLarge, jsonError, readBody, tooLarge } from './proxy-body.js';
import { requestPath } from './proxy-headers.js';
import { closeUpstreams, openUpstreams, type FrontDoorUpstream } from './upstreams.js';

export type { FrontDoorUpstream } from './upstreams.js';

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

/** Starts the front door; resolves once it listens. */
export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const { pools, admission } = openAdmission(options);
  const onRequest = requestHandler(admission);
  // Either the caller's listening server (it keeps owning it) or one of our own.
  const given = options.server;
  const server: Server = given ?? createServer({ keepAliveTimeout: 65_000 });
  server.on('request', onRequest);
  server.on('clientError', onClientError);
  if (!given) await listen(server, options.port, options.host);
  const address = server.address() as AddressInfo;
  const host = given ? address.address : options.host;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    targetDown: (target) => admission.race.targetDown(target),
    close: async () => {
      server.off('request', onRequest);
      server.off('clientError', onClientError);
      if (!given) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      await closeUpstreams(pools);
    },
  };
}

/** Opens the upstream pools and the race over them: what admitting a request needs. */
function openAdmission(options: FrontDoorOptions) {
  const upstreamTimeoutMs = clampTimerMs(options.upstreamTimeoutMs);
  const pools = openUpstreams(options.upstreams, {
    upstreamTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
  });
  const counters = new LabelCache(
    options.metrics,
    new Map([...pools.values()].map((u) => [u.name, u.cloud])),
  );
  const race = new Race({
    pools,
    counters,
    maxBodyBytes: options.maxBodyBytes,
    upstreamTimeoutMs,
    attemptFloorMs: clampTimerMs(options.attemptFloorMs ?? 1000),
    onOutcome: options.onOutcome,
  });
  const admission: Admission = {
    options,
    counters,
    race,
    jurisdictionHeader: options.jurisdictionHeader.toLowerCase(),
  };
  return { pools, admission };
}

/** The server's request listener: admits each request, answering a bare 500 on a bug of ours. */
function requestHandler(ctx: Admission) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    try {
      admit(ctx, req, res);
    } catch (error) {
      // A bug of ours: the operator hears the details, the client only that it failed.
      ctx.options.onInternalError?.(error);
      jsonError(res, 500, {
        error: 'internal_error',
        message: 'the front door could not handle this request',
      });
    }
  };
}

/** What admitting a request needs. */
interface Admission {
  options: FrontDoorOptions;
  counters: LabelCache;
  race: Race;
  /** The jurisdiction header's name, lower case. */
  jurisdictionHeader: string;
}

/**
 * A client request arrives: admin and bad paths answered here, bodies over the limit refused,
 * the route asked for the targets, and the exchange launched (after buffering a retry-safe
 * body).
 */
function admit(ctx: Admission, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  const asked = screen(ctx, req, res);
  if (!asked) return;
  const header = req.headers[ctx.jurisdictionHeader];
  const jurisdiction = Array.isArray(header) ? header[0] : header;
  const route = ctx.options.route({ jurisdiction: jurisdiction?.trim().toLowerCase() });
  if (!route.ok) {
    req.resume();
    // Asking to stay where no target runs is the client's error, not an outage.
    const status = route.unknownJurisdiction ? 400 : 503;
    ctx.counters.request('none', status);
    jsonError(res, status, {
      error: route.unknownJurisdiction ? 'unknown_jurisdiction' : 'no_healthy_target',
      message: route.reason,
    });
    return;
  }
  const method = req.method ?? 'GET';
  const hasBody = asked.declared > 0 || req.headers['transfer-encoding'] !== undefined;
  const retrySafe = SAFE_METHODS.has(method) || (method === 'POST' && ctx.options.retryPost);
  const exchange: Exchange = {
    req,
    res,
    path: asked.path,
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
  launch(ctx, exchange, hasBody && retrySafe);
}

/**
 * What the front door answers itself (an interceptor's paths, a target that is not a path,
 * the admin paths, a declared body over the limit). Returns the request's path and declared
 * length when it is for the targets, undefined when it was answered.
 */
function screen(
  ctx: Admission,
  req: IncomingMessage,
  res: ServerResponse,
): { path: string; declared: number } | undefined {
  const { options } = ctx;
  if (options.intercept?.(req, res)) return undefined;
  const path = requestPath(req.url ?? '/');
  if (path === undefined) {
    req.resume();
    jsonError(res, 400, { error: 'bad_request', message: 'the request target is not a path' });
    return undefined;
  }
  if (path.startsWith('/_mcml/')) {
    if (options.admin) options.admin(req, res, () => readBody(req, 1024 * 1024));
    else jsonError(res, 404, { error: 'not_found' });
    return undefined;
  }
  const lengthHeader = req.headers['content-length'];
  const declared = lengthHeader === undefined ? 0 : Number(lengthHeader);
  if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
    tooLarge(res, options.maxBodyBytes, declared);
    req.resume();
    return undefined;
  }
  return { path, declared };
}

/** Starts the race, after reading the body when a retry may need to send it again. */
function launch(ctx: Admission, exchange: Exchange, buffer: boolean): void {
  const { req, res } = exchange;
  // A client that goes away cancels the upstream requests; that is not the targets' fault.
  res.on('close', () => {
    if (res.writableFinished) return;
    exchange.settled = true;
    for (const a of exchange.live) a.cancel();
    exchange.winner?.cancel();
  });
  if (!buffer) {
    ctx.race.launch(exchange);
    return;
  }
  readBody(req, ctx.options.maxBodyBytes).then(
    (body) => {
      exchange.body = body;
      ctx.race.launch(exchange);
    },
    (error: unknown) => {
      if (error instanceof PayloadTooLarge) tooLarge(res, ctx.options.maxBodyBytes);
      else res.destroy();
    },
  );
}

function onClientError(_error: Error, socket: Duplex): void {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  else socket.destroy();
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
