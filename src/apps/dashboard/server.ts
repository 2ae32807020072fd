/**
 * The dashboard's HTTP side: the page at `/`, its scripts and vendored modules under
 * `/_mcml/ui/` and `/_mcml/vendor/`, the JSON state API and an SSE stream under `/_mcml/api/`,
 * admin actions that need the bearer token, and the aggregated `/metrics`. Everything else is
 * left to the caller (the front door), so the dashboard and the service share one port.
 */
import { timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McmlError, httpStatusFor, isMcmlError } from '../../core/errors.js';
import { renderPage } from './page.js';
import type { DashboardState, TrafficResult } from './state.js';

/** What the dashboard needs from the running deployment. */
export interface DashboardBackend {
  state(): DashboardState;
  /** Takes a target out of rotation by hand. */
  fail(target: string): Promise<void>;
  /** Puts a target back. */
  restore(target: string): Promise<void>;
  /** Replaces a target's replicas one at a time (resolves when the rollout is done). */
  rollout(target: string): Promise<void>;
  /** Sends `count` inference requests through the front door. */
  sendTraffic(count: number): Promise<TrafficResult>;
  /** Prometheus text for `/metrics`. */
  metrics(): Promise<string>;
  /** Subscribes to changes worth pushing at once (events); returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

export interface DashboardOptions {
  backend: DashboardBackend;
  /** Bearer token for admin actions. */
  adminToken: string;
  /** SSE push period when nothing happens. */
  pushIntervalMs?: number;
  /**
   * Host names the dashboard answers to besides IP addresses and `localhost` (DNS-rebinding
   * protection): the name it is bound to and the public names it is reached by. `*.example.com`
   * matches every subdomain of example.com.
   */
  allowedHosts?: readonly string[];
}

/** Handles a request if it is the dashboard's; returns false to let the caller route it. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Browser builds (ES modules) of the front-end packages, by package and path inside it. A Map:
 * the key comes from the request path, and a plain object would answer `__proto__`.
 */
const VENDOR = new Map<string, { pkg: string; file: string; type: string }>([
  ['preact.js', { pkg: 'preact', file: 'dist/preact.module.js', type: 'text/javascript' }],
  [
    'preact-hooks.js',
    { pkg: 'preact', file: 'hooks/dist/hooks.module.js', type: 'text/javascript' },
  ],
  ['htm.js', { pkg: 'htm', file: 'dist/htm.module.js', type: 'text/javascript' }],
  ['htm-preact.js', { pkg: 'htm', file: 'preact/index.module.js', type: 'text/javascript' }],
  ['uplot.js', { pkg: 'uplot', file: 'dist/uPlot.esm.js', type: 'text/javascript' }],
  ['uplot.css', { pkg: 'uplot', file: 'dist/uPlot.min.css', type: 'text/css' }],
]);

/** A request the client got wrong; answered with its status and message. */
class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The path and query of an origin-form request target. Not `new URL(target, base)`: that
 * reads "//host/x" as another host's /x, and throws on "//".
 */
function parseTarget(target: string): { path: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  return {
    path: q >= 0 ? target.slice(0, q) : target,
    query: new URLSearchParams(q >= 0 ? target.slice(q + 1) : ''),
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ClientError(400, 'the request path has a malformed percent-escape');
  }
}

/**
 * Whether a Host header names this dashboard. A page on another origin can point its own DNS
 * name at this machine (DNS rebinding) and read the state API as same-origin; its requests
 * then carry that name. IP addresses and localhost cannot be rebound, so they always pass;
 * other names must be listed. No Host at all (HTTP/1.0 tools) is not a browser: it passes.
 */
export function hostAllowed(host: string | undefined, allowed: readonly string[]): boolean {
  if (host === undefined || host === '') return true;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  const name = (bracketed ? bracketed[1]! : host.replace(/:\d+$/, ''))
    .toLowerCase()
    .replace(/\.$/, '');
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.some((a) => {
    const want = a.toLowerCase().replace(/\.$/, '');
    return want.startsWith('*.') ? name.endsWith(want.slice(1)) : name === want;
  });
}

const require = createRequire(import.meta.url);

/** The installed directory of a package (its exports map hides the browser files). */
function packageDir(pkg: string): string {
  const entry = require.resolve(pkg);
  const marker = `${sep}node_modules${sep}${pkg}${sep}`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length);
}

/** The directory holding the compiled browser code (dist/apps/dashboard/web). */
export function webDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'web');
  if (existsSync(join(beside, 'app.js'))) return beside;
  // Running from src/ (tests under tsx/vitest): use the build's copy.
  return join(here, '..', '..', '..', 'dist', 'apps', 'dashboard', 'web');
}

/** Builds the dashboard's request handler. */
export function createDashboardHandler(options: DashboardOptions): DashboardHandler {
  const ctx: Context = {
    backend: options.backend,
    token: Buffer.from(options.adminToken),
    web: webDir(),
    pushEvery: options.pushIntervalMs ?? 1000,
  };
  const allowedHosts = options.allowedHosts ?? [];
  const route = (req: IncomingMessage, res: ServerResponse): boolean => {
    const target = req.url ?? '/';
    // Anything but a plain path ("*", absolute-form, "//x") is the front door's to answer.
    if (!target.startsWith('/') || target.startsWith('//')) return false;
    const { path, query } = parseTarget(target);
    const method = req.method ?? 'GET';
    if (!ours(path, method, req)) return false;
    if (!hostAllowed(req.headers.host, allowedHosts)) {
      sendJson(res, 403, {
        error:
          'this host name is not allowed for the dashboard (a guard against DNS rebinding); ' +
          'open it by IP address or localhost, or list the name in failover.frontDoor.allowedHosts',
      });
      return true;
    }
    if (!servePage(ctx, req, res, path, method) && !serveApi(ctx, req, res, path, query)) {
      if (!serveStatic(ctx, res, path, method)) {
        sendJson(res, 404, { error: 'no such dashboard endpoint' });
      }
    }
    return true;
  };
  // The handler never throws: the caller (the front door) would answer 502 with the message.
  return (req, res) => {
    try {
      return route(req, res);
    } catch (error) {
      if (error instanceof ClientError) sendJson(res, error.status, { error: error.message });
      else sendJson(res, 500, { error: 'internal error' });
      return true;
    }
  };
}

interface Context {
  backend: DashboardOptions['backend'];
  /** The admin token's bytes. */
  token: Buffer;
  /** Where the compiled browser code is. */
  web: string;
  /** How often the state stream pushes without a change, ms. */
  pushEvery: number;
}

/** True when the request is the dashboard's: the page, its API, its files and /metrics. */
function ours(path: string, method: string, req: IncomingMessage): boolean {
  return (
    (path === '/' && (method === 'GET' || method === 'HEAD') && wantsHtml(req)) ||
    (path === '/metrics' && method === 'GET') ||
    /^\/_mcml\/(api|ui|vendor)\//.test(path)
  );
}

/** The page itself and /metrics; false when the request is neither. */
function servePage(
  { backend }: Context,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  method: string,
): boolean {
  if (path === '/' && (method === 'GET' || method === 'HEAD') && wantsHtml(req)) {
    const html = renderPage();
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
      'cache-control': 'no-cache',
    });
    res.end(method === 'HEAD' ? undefined : html);
    return true;
  }
  if (path === '/metrics' && method === 'GET') {
    backend.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      },
      (error: unknown) => sendError(res, error),
    );
    return true;
  }
  return false;
}

/** The state API (read, stream) and its admin actions; false when the path is not one. */
function serveApi(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): boolean {
  const { backend } = ctx;
  const method = req.method ?? 'GET';
  if (path === '/_mcml/api/state' && method === 'GET') {
    sendJson(res, 200, backend.state());
    return true;
  }
  if (path === '/_mcml/api/stream' && method === 'GET') {
    streamState(ctx, req, res);
    return true;
  }
  const targetAction = /^\/_mcml\/api\/targets\/([^/]+)\/(fail|restore|rollout)$/.exec(path);
  if (targetAction) {
    const name = decodeSegment(targetAction[1]!);
    const act = targetAction[2];
    admin(ctx, req, res, async () => {
      if (!backend.state().targets.some((t) => t.name === name)) {
        throw new McmlError('NOT_FOUND', `no target named "${name}"`);
      }
      if (act === 'fail') await backend.fail(name);
      else if (act === 'restore') await backend.restore(name);
      else await backend.rollout(name);
      return { ok: true, target: name, action: act };
    });
    return true;
  }
  if (path === '/_mcml/api/traffic') {
    admin(ctx, req, res, async () => {
      const raw = query.get('count') ?? (await readJsonCount(req));
      const count = raw === undefined ? 50 : Number(raw);
      if (!Number.isInteger(count) || count < 1 || count > 2000) {
        throw new McmlError('INVALID_ARGUMENT', 'count must be an integer from 1 to 2000');
      }
      return backend.sendTraffic(count);
    });
    return true;
  }
  return false;
}

/** The compiled browser code and the vendored libraries; false when the path is neither. */
function serveStatic({ web }: Context, res: ServerResponse, path: string, method: string): boolean {
  if (path.startsWith('/_mcml/ui/') && method === 'GET') {
    serveFile(res, web, path.slice('/_mcml/ui/'.length));
    return true;
  }
  if (path.startsWith('/_mcml/vendor/') && method === 'GET') {
    const entry = VENDOR.get(path.slice('/_mcml/vendor/'.length));
    if (!entry) sendJson(res, 404, { error: 'not found' });
    else streamFile(res, join(packageDir(entry.pkg), entry.file), entry.type);
    return true;
  }
  return false;
}

function authorized(token: Buffer, req: IncomingMessage): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  return given.length === token.length && timingSafeEqual(given, token);
}

/** An admin action: POST only, behind the bearer token; answers its result or its error. */
function admin(
  { token }: Context,
  req: IncomingMessage,
  res: ServerResponse,
  action: () => Promise<unknown>,
): void {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
    return;
  }
  if (!authorized(token, req)) {
    sendJson(
      res,
      401,
      { error: 'admin token required: send "Authorization: Bearer <token>"' },
      { 'www-authenticate': 'Bearer realm="mcml"' },
    );
    return;
  }
  action().then(
    (result) => sendJson(res, 200, result ?? { ok: true }),
    (error: unknown) => sendError(res, error),
  );
}

/** Server-sent events: the state on every change (at most ~5/s) and every `pushEvery` ms. */
function streamState(
  { backend, pushEvery }: Context,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let pending: NodeJS.Timeout | undefined;
  const push = () => {
    pending = undefined;
    res.write(`event: state\ndata: ${JSON.stringify(backend.state())}\n\n`);
  };
  const soon = () => {
    pending ??= setTimeout(push, 200);
  };
  push();
  const timer = setInterval(push, pushEvery);
  const off = backend.onChange(soon);
  req.on('close', () => {
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    off();
  });
}

function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html');
}

async function readJsonCount(req: IncomingMessage): Promise<string | undefined> {
  let text = '';
  for await (const chunk of req) {
    text += (chunk as Buffer).toString();
    if (text.length > 10_000) throw new McmlError('PAYLOAD_TOO_LARGE', 'body too large');
  }
  if (text.trim() === '') return undefined;
  try {
    const body = JSON.parse(text) as { count?: unknown };
    if (body.count === undefined) return undefined;
    return typeof body.count === 'number' || typeof body.count === 'string'
      ? String(body.count)
      : 'NaN';
  } catch {
    throw new McmlError('INVALID_ARGUMENT', 'body must be JSON such as {"count": 50}');
  }
}

const TYPES = new Map<string, string>([
  ['.js', 'text/javascript; charset=utf-8'],
  ['.map', 'application/json'],
  ['.css', 'text/css; charset=utf-8'],
  ['.png', 'image/png'],
  ['.svg', 'image/svg+xml'],
]);

function serveFile(res: ServerResponse, root: string, relative: string): void {
  const file = normalize(join(root, relative));
  if (!file.startsWith(root + sep)) {
    sendJson(res, 404, { error: 'not found' });
    return;
  }
  const ext = file.slice(file.lastIndexOf('.'));
  streamFile(res, file, TYPES.get(ext) ?? 'application/octet-stream');
}

function streamFile(res: ServerResponse, file: string, type: string): void {
  stat(file).then(
    (info) => {
      if (!info.isFile()) {
        sendJson(res, 404, { error: 'not found' });
        return;
      }
      res.writeHead(200, {
        'content-type': type,
        'content-length': info.size,
        'cache-control': 'no-cache',
      });
      createReadStream(file)
        .once('error', () => res.destroy())
        .pipe(res);
    },
    () => sendJson(res, 404, { error: 'not found' }),
  );
}

function sendError(res: ServerResponse, error: unknown): void {
  // The client went away (e.g. mid-body): there is nobody to answer.
  if (res.destroyed) return;
  const status = httpStatusFor(error);
  const message = isMcmlError(error) ? error.message : 'internal error';
  sendJson(res, status, { error: message, ...(isMcmlError(error) ? { code: error.code } : {}) });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
