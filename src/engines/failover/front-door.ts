/**
 * The front door: an HTTP reverse proxy on undici connection pools. It asks `route()` which
 * targets may serve a request, sends it to the first and, when that is safe, retries the next
 * ones: connect refused or reset before a response, a bad response, 502/503/504. Retry-safe
 * are GET/HEAD/OPTIONS, and POST when `retryPost` (inference is idempotent); their bodies are
 * buffered up to `maxBodyBytes` so they can be sent again. Other bodies stream through.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { Transform, pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { Route } from '../../core/failover/index.js';
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

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

function forwardHeaders(
  req: IncomingMessage,
  upstreamHost: string,
  bodyLength: number | undefined,
): Record<string, string | string[]> {
  const listed = connectionTokens(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || listed.has(key)) continue;
    if (key === 'content-length' && bodyLength !== undefined) continue;
    out[key] = value;
  }
  if (bodyLength !== undefined && (bodyLength > 0 || req.method === 'POST')) {
    out['content-length'] = String(bodyLength);
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  out['x-forwarded-host'] ??= req.headers.host ?? '';
  out['x-forwarded-proto'] ??= 'http';
  out.host = upstreamHost;
  return out;
}

function responseHeaders(
  headers: Dispatcher.ResponseData['headers'],
  target: string,
): Record<string, string | string[]> {
  const listed = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || listed.has(key)) continue;
    out[key] = value;
  }
  out['x-mcml-target'] = target;
  return out;
}

/** Starts the front door; resolves once it listens. */
export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  const pools = new Map<string, { pool: Pool; host: string; basePath: string }>();
  for (const u of options.upstreams) {
    const url = new URL(u.endpoint);
    pools.set(u.name, {
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
  const { metrics } = options;
  const jurisdictionHeader = options.jurisdictionHeader.toLowerCase();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const url = req.url ?? '/';
    if (url.startsWith('/_mcml/')) {
      if (options.admin) options.admin(req, res, () => readBody(req, 1024 * 1024));
      else jsonError(res, 404, { error: 'not_found' });
      return;
    }
    const method = req.method ?? 'GET';
    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
      res.setHeader('connection', 'close');
      jsonError(res, 413, {
        error: 'payload_too_large',
        message: `request body of ${declared} bytes is over the limit of ${options.maxBodyBytes}`,
      });
      req.resume();
      return;
    }
    const header = req.headers[jurisdictionHeader];
    const jurisdiction = Array.isArray(header) ? header[0] : header;
    const route = options.route({ jurisdiction: jurisdiction?.trim().toLowerCase() });
    if (!route.ok) {
      req.resume();
      metrics?.proxyRequests.inc({ target: 'none', code: '503' });
      jsonError(res, 503, { error: 'no_healthy_target', message: route.reason });
      return;
    }
    const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
    const retrySafe = SAFE_METHODS.has(method) || (method === 'POST' && options.retryPost);
    let body: Buffer | undefined;
    if (hasBody && retrySafe) {
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        if (error instanceof PayloadTooLarge) {
          res.setHeader('connection', 'close');
          jsonError(res, 413, {
            error: 'payload_too_large',
            message: `request body is over the limit of ${options.maxBodyBytes} bytes`,
          });
        } else {
          res.destroy();
        }
        return;
      }
    }
    // A client that goes away cancels the upstream request; that is not the target's fault.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const attempts = retrySafe ? route.targets : route.targets.slice(0, 1);
    const failures: string[] = [];
    for (let i = 0; i < attempts.length; i++) {
      const name = attempts[i]!;
      const upstream = pools.get(name);
      if (!upstream) continue;
      const last = i === attempts.length - 1;
      let streamed: Readable | undefined;
      if (hasBody && body === undefined) streamed = limitStream(req, options.maxBodyBytes);
      let response: Dispatcher.ResponseData;
      try {
        response = await upstream.pool.request({
          path: upstream.basePath + url,
          method: method,
          headers: forwardHeaders(req, upstream.host, body?.length),
          body: body ?? streamed ?? null,
          signal: abort.signal,
        });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (streamed && isTooLarge(error)) {
          res.setHeader('connection', 'close');
          jsonError(res, 413, {
            error: 'payload_too_large',
            message: `request body is over the limit of ${options.maxBodyBytes} bytes`,
          });
          return;
        }
        const reason = describeNetworkError(error, options.upstreamTimeoutMs);
        options.onOutcome(name, false, reason);
        failures.push(`${name}: ${reason}`);
        if (!last) {
          metrics?.proxyRetries.inc({ target: name, reason: 'error' });
          continue;
        }
        break;
      }
      const status = response.statusCode;
      options.onOutcome(name, status < 500, status >= 500 ? `HTTP ${status}` : undefined);
      if (RETRY_STATUS.has(status) && !last) {
        failures.push(`${name}: HTTP ${status}`);
        metrics?.proxyRetries.inc({ target: name, reason: String(status) });
        response.body.dump().catch(() => undefined);
        continue;
      }
      metrics?.proxyRequests.inc({ target: name, code: String(status) });
      metrics?.proxyLatency.observe({ target: name }, (performance.now() - started) / 1000);
      try {
        res.writeHead(status, responseHeaders(response.headers, name));
      } catch {
        // An upstream header Node refuses to send: answer 502 rather than crash.
        response.body.dump().catch(() => undefined);
        jsonError(res, 502, { error: 'bad_gateway', target: name, message: 'invalid headers' });
        return;
      }
      const length = Number(response.headers['content-length'] ?? NaN);
      if (length >= 0 && length <= SMALL_BODY_BYTES) {
        // Small answers (inference results) in one write: measurably faster than piping
        // undici's body stream into the response, and they are bounded by Content-Length.
        let buffered: Buffer;
        try {
          buffered = Buffer.from(await response.body.arrayBuffer());
        } catch {
          res.destroy();
          return;
        }
        res.end(buffered);
        return;
      }
      pipeline(response.body, res, (error) => {
        if (error) res.destroy();
      });
      return;
    }
    metrics?.proxyRequests.inc({ target: 'none', code: '503' });
    jsonError(res, 503, {
      error: 'all_targets_failed',
      message:
        `every target${jurisdiction ? ` in jurisdiction "${jurisdiction}"` : ''} failed this ` +
        `request: ${failures.join('; ')}`,
      tried: attempts,
    });
  };

  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    handle(req, res).catch((error: unknown) => {
      jsonError(res, 502, { error: 'bad_gateway', message: describeNetworkError(error) });
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
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
