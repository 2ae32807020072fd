/**
 * The front door: an HTTP reverse proxy on undici connection pools. It asks `route()` which
 * targets may serve a request, sends it to the first and, when that is safe, retries the next
 * ones: connect refused or reset before a response, a bad response, 502/503/504. Retry-safe
 * are GET/HEAD/OPTIONS, and POST when `retryPost` (inference is idempotent); their bodies are
 * buffered up to `maxBodyBytes` so they can be sent again. Other bodies stream through.
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
import type { Route } from '../../core/failover/index.js';
import { memo } from '../../core/memo.js';
import { describeNetworkError } from './health-checker.js';
import type { FailoverMetrics } from './metrics.js';

export interface FrontDoorUpstream {
  name: string;
  /** Base URL, e.g. http://10.0.0.1:8000 or https://lb.example.net/prefix. */
  endpoint: string;
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
  /** Which targets may serve a request, best first. */
  route: (request: { jurisdiction: string | undefined }) => Route;
  /** Passive health signal: one proxied attempt's outcome. */
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
}

export interface FrontDoor {
  /** http://host:port the front door listens on. */
  url: string;
  port: number;
  close(): Promise<void>;
}

// RFC 9110 §7.6.1 hop-by-hop fields, plus proxy-* ones; never forwarded either way.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);
const RETRY_STATUS = new Set([502, 503, 504]);
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

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const part of text.split(',')) {
    const token = part.trim().toLowerCase();
    if (token && token !== 'keep-alive' && token !== 'close') tokens.add(token);
  }
  return tokens.size > 0 ? tokens : undefined;
}

/** The request's headers for the upstream, as undici's flat [name, value, …] list. */
function forwardHeaders(
  req: IncomingMessage,
  upstreamHost: string,
  bodyLength: number | undefined,
): string[] {
  const listed = connectionTokens(req.headers.connection);
  const raw = req.rawHeaders;
  const out: string[] = [];
  let forwardedHost = false;
  let forwardedProto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const key = name.toLowerCase();
    if (HOP_BY_HOP.has(key) || listed?.has(key) || key === 'x-forwarded-for') continue;
    if (key === 'content-length' && bodyLength !== undefined) continue;
    if (key === 'x-forwarded-host') forwardedHost = true;
    else if (key === 'x-forwarded-proto') forwardedProto = true;
    out.push(name, raw[i + 1]!);
  }
  if (bodyLength !== undefined && (bodyLength > 0 || req.method === 'POST')) {
    out.push('content-length', String(bodyLength));
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out.push('x-forwarded-for', prior ? `${String(prior)}, ${client}` : client);
  if (!forwardedHost) out.push('x-forwarded-host', req.headers.host ?? '');
  if (!forwardedProto) out.push('x-forwarded-proto', 'http');
  out.push('host', upstreamHost);
  return out;
}

/** The upstream's raw response headers for the client, hop-by-hop ones dropped. */
function responseHeaders(raw: Buffer[], target: string): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const key = name.toLowerCase();
    if (key === 'connection') listed = connectionTokens(raw[i + 1]!.toString('latin1'));
    if (HOP_BY_HOP.has(key)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (listed) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (listed.has(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }
  out.push('x-mcml-target', target);
  return out;
}

interface Upstream {
  name: string;
  pool: Pool;
  host: string;
  basePath: string;
}

/** One client request on its way through the targets. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: string;
  method: string;
  started: number;
  jurisdiction: string | undefined;
  attempts: string[];
  failures: string[];
  /** The buffered body of a retry-safe request. */
  body: Buffer | undefined;
  /** The body streams through (not retry-safe): one attempt only. */
  streamBody: boolean;
  current: { cancel(): void } | undefined;
}

/** The proxy's metric children, looked up once per label set (the hot path). */
class LabelCache {
  private readonly requests = new Map<string, { inc(): void }>();
  private readonly latency = new Map<string, { observe(v: number): void }>();
  private readonly retries = new Map<string, { inc(): void }>();

  constructor(private readonly metrics: FailoverMetrics | undefined) {}

  request(target: string, code: number, seconds?: number): void {
    const m = this.metrics;
    if (!m) return;
    memo(this.requests, `${target} ${code}`, () =>
      m.proxyRequests.labels({ target, code: String(code) }),
    ).inc();
    if (seconds === undefined) return;
    memo(this.latency, target, () => m.proxyLatency.labels({ target })).observe(seconds);
  }

  retry(target: string, reason: string | number): void {
    const m = this.metrics;
    if (!m) return;
    memo(this.retries, `${target} ${reason}`, () =>
      m.proxyRetries.labels({ target, reason: String(reason) }),
    ).inc();
  }
}

/** Starts the front door; resolves once it listens. */
export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const pools = new Map<string, Upstream>();
  for (const u of options.upstreams) {
    const url = new URL(u.endpoint);
    pools.set(u.name, {
      name: u.name,
      pool: new Pool(url.origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: options.upstreamTimeoutMs,
        bodyTimeout: options.upstreamTimeoutMs,
        connect: { timeout: options.connectTimeoutMs ?? 2000 },
      }),
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ''),
    });
  }
  const counters = new LabelCache(options.metrics);
  const jurisdictionHeader = options.jurisdictionHeader.toLowerCase();

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
    const url = req.url ?? '/';
    if (options.intercept?.(req, res)) return;
    if (url.startsWith('/_mcml/')) {
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
      counters.request('none', 503);
      jsonError(res, 503, { error: 'no_healthy_target', message: route.reason });
      return;
    }
    const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
    const retrySafe = SAFE_METHODS.has(method) || (method === 'POST' && options.retryPost);
    const exchange: Exchange = {
      req,
      res,
      url,
      method,
      started,
      jurisdiction,
      attempts: retrySafe ? route.targets : route.targets.slice(0, 1),
      failures: [],
      body: undefined,
      streamBody: hasBody && !retrySafe,
      current: undefined,
    };
    // A client that goes away cancels the upstream request; that is not the target's fault.
    res.on('close', () => {
      if (!res.writableFinished) exchange.current?.cancel();
    });
    if (hasBody && retrySafe) {
      readBody(req, options.maxBodyBytes).then(
        (body) => {
          exchange.body = body;
          attempt(exchange, 0);
        },
        (error: unknown) => {
          if (error instanceof PayloadTooLarge) tooLarge(res);
          else res.destroy();
        },
      );
      return;
    }
    attempt(exchange, 0);
  };

  /** Sends the request to `exchange.attempts[index]`, or answers 503 when none is left. */
  const attempt = (exchange: Exchange, index: number): void => {
    const { res } = exchange;
    if (res.destroyed) return;
    let upstream: Upstream | undefined;
    while (index < exchange.attempts.length) {
      upstream = pools.get(exchange.attempts[index]!);
      if (upstream) break;
      index++;
    }
    if (!upstream) {
      counters.request('none', 503);
      jsonError(res, 503, {
        error: 'all_targets_failed',
        message:
          `every target${exchange.jurisdiction ? ` in jurisdiction "${exchange.jurisdiction}"` : ''} ` +
          `failed this request: ${exchange.failures.join('; ')}`,
        tried: exchange.attempts,
      });
      return;
    }
    const last = index === exchange.attempts.length - 1;
    const handler = new ProxyHandler(exchange, upstream, last, (reason) => {
      exchange.failures.push(`${upstream.name}: ${reason}`);
      attempt(exchange, index + 1);
    });
    exchange.current = handler;
    const body = exchange.streamBody
      ? limitStream(exchange.req, options.maxBodyBytes)
      : (exchange.body ?? null);
    upstream.pool.dispatch(
      {
        path: upstream.basePath + exchange.url,
        method: exchange.method,
        headers: forwardHeaders(exchange.req, upstream.host, exchange.body?.length),
        body,
      },
      handler,
    );
  };

  /** One proxied attempt, as an undici dispatch handler (the pool's native interface). */
  class ProxyHandler implements Dispatcher.DispatchHandler {
    private abort: ((reason?: Error) => void) | undefined;
    private cancelled = false;
    private status = 0;
    private retrying = false;
    private chunks: Buffer[] | undefined;
    private size = 0;
    private streaming = false;

    constructor(
      private readonly exchange: Exchange,
      private readonly upstream: Upstream,
      private readonly last: boolean,
      private readonly next: (reason: string) => void,
    ) {}

    cancel(): void {
      this.cancelled = true;
      this.abort?.();
    }

    onConnect(abort: (reason?: Error) => void): void {
      this.abort = abort;
      if (this.cancelled) abort();
    }

    onError(error: Error): void {
      if (this.cancelled) return;
      const { res } = this.exchange;
      if (this.streaming || this.chunks !== undefined) {
        // The answer broke after it started: nothing safe to retry, tell the client by closing.
        options.onOutcome(this.upstream.name, false, describeNetworkError(error));
        res.destroy();
        return;
      }
      if (this.retrying) {
        this.next(`HTTP ${this.status}`);
        return;
      }
      if (this.exchange.streamBody && isTooLarge(error)) {
        tooLarge(res);
        return;
      }
      const reason = describeNetworkError(error, options.upstreamTimeoutMs);
      options.onOutcome(this.upstream.name, false, reason);
      if (!this.last) counters.retry(this.upstream.name, 'error');
      this.next(reason);
    }

    onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
      if (status < 200) return true; // 1xx: undici waits for the final answer
      this.status = status;
      const { res } = this.exchange;
      const name = this.upstream.name;
      options.onOutcome(name, status < 500, status >= 500 ? `HTTP ${status}` : undefined);
      if (RETRY_STATUS.has(status) && !this.last) {
        counters.retry(name, status);
        this.retrying = true;
        return true; // read and drop the body, then try the next target on completion
      }
      counters.request(name, status, (performance.now() - this.exchange.started) / 1000);
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
      if (this.retrying) return true;
      if (this.chunks) {
        this.chunks.push(chunk);
        this.size += chunk.length;
        return true;
      }
      return this.exchange.res.write(chunk);
    }

    onComplete(): void {
      if (this.retrying) {
        this.next(`HTTP ${this.status}`);
        return;
      }
      const { res } = this.exchange;
      if (this.chunks) {
        res.end(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size));
      } else {
        res.end();
      }
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    try {
      handle(req, res);
    } catch (error) {
      jsonError(res, 502, { error: 'bad_gateway', message: describeNetworkError(error) });
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
    close: async () => {
      server.off('request', onRequest);
      server.off('clientError', onClientError);
      if (!given) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      await Promise.all([...pools.values()].map((p) => p.pool.close()));
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
