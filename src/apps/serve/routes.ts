/**
 * The request router of `mcml serve`: health and readiness, metrics, server and model
 * metadata, then the inference routes (behind the bearer token when one is set).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { redactUri } from '../../core/storage-uri.js';
import { allowMethod, authorize, decodeSegment, HttpError, sendJson, targetPath } from './http.js';
import { inferV2, predictV1, type Served } from './inference.js';
import type { DeploymentLabels, ServeMetrics } from './metrics.js';
import type { LoadedModel } from './model.js';

/** What the routes read of the running server. */
export interface RouteContext {
  /** Every model name asked for, loaded or not. */
  readonly names: ReadonlySet<string>;
  /** The models loaded so far. */
  readonly served: ReadonlyMap<string, Served>;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly labels: DeploymentLabels;
  readonly version: string;
  readonly metrics: ServeMetrics;
  readonly authToken: string | undefined;
  readonly maxBodyBytes: number;
}

export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  setRoute: (route: string) => void,
) => Promise<void>;

/** The handler for every request; it names the route it took for the metrics. */
export function router(ctx: RouteContext): Route {
  return async (req, res, setRoute) => {
    const path = targetPath(req.url ?? '/');
    if (OPEN_ROUTES.has(path)) return openRoute(ctx, req, res, path, setRoute);
    if (ctx.authToken !== undefined && /^\/v[12]\/models(\/|$)/.test(path)) {
      setRoute('unauthorized');
      authorize(req, ctx.authToken);
    }
    // /v2/models/{name}[/versions/{v}][/ready|/infer]
    const v2 = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
    if (v2) return modelV2(ctx, req, res, v2, setRoute);
    const v1 = /^\/v1\/models\/([^/:]+)(:predict)?$/.exec(path);
    if (v1) return modelV1(ctx, req, res, v1, setRoute);
    throw new HttpError(404, `no such endpoint: ${req.method} ${path}`);
  };
}

/** Paths open without the token: health, readiness, metrics and server metadata. */
const OPEN_ROUTES = new Set([
  '/health',
  '/healthz',
  '/metrics',
  '/v2',
  '/v2/',
  '/v2/health/live',
  '/v2/health/ready',
]);

/** Answers one of OPEN_ROUTES. */
async function openRoute(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  setRoute: (route: string) => void,
): Promise<void> {
  if (path === '/health' || path === '/healthz') {
    get(req, setRoute, '/health');
    const body = {
      status: ctx.ready ? 'ok' : ctx.draining ? 'draining' : 'loading',
      ...ctx.labels,
      models: [...ctx.served.keys()],
      version: ctx.version,
    };
    sendJson(res, ctx.ready ? 200 : 503, body);
  } else if (path === '/metrics') {
    get(req, setRoute, '/metrics');
    const text = await ctx.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': ctx.metrics.registry.contentType });
    res.end(text);
  } else if (path === '/v2' || path === '/v2/') {
    get(req, setRoute, '/v2');
    sendJson(res, 200, { name: 'mcml', version: ctx.version, extensions: ['binary_tensor_data'] });
  } else if (path === '/v2/health/live') {
    get(req, setRoute, '/v2/health/live');
    sendJson(res, 200, { live: true });
  } else {
    get(req, setRoute, '/v2/health/ready');
    sendJson(res, ctx.ready ? 200 : 503, { ready: ctx.ready });
  }
}

/** Names an open route (for the metrics) and allows GET and HEAD only. */
function get(req: IncomingMessage, setRoute: (route: string) => void, route: string): void {
  setRoute(route);
  allowMethod(req, 'GET');
}

function lookup(ctx: RouteContext, name: string): Served {
  const s = ctx.served.get(name);
  if (s) return s;
  if (ctx.names.has(name)) {
    throw new HttpError(503, `model "${name}" is still loading`, { 'Retry-After': '1' });
  }
  throw new HttpError(
    404,
    `unknown model "${name}"; this server serves: ${[...ctx.names].join(', ')}`,
  );
}

function modelMetadata(m: LoadedModel) {
  return {
    name: m.name,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: m.inputs,
    outputs: m.outputs,
    parameters: { sha256: m.sha256, source: publicSource(m.source), batchable: m.batchable },
  };
}

/**
 * Where a model came from, as clients may see it: a store URI without its query or user part
 * (a SAS token, credentials), a local file by its name only (the server's paths are its own).
 */
export function publicSource(source: string): string {
  if (/^(s3|gs|az|https?):\/\//i.test(source)) return redactUri(source);
  return basename(source); // a path or a file:// URI
}

async function modelV2(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  setRoute: (route: string) => void,
): Promise<void> {
  const name = decodeSegment(match[1]!);
  const version = match[2] === undefined ? undefined : decodeSegment(match[2]);
  const action = match[3];
  setRoute(`/v2/models/:model${action ?? ''}`);
  const s = lookup(ctx, name);
  if (version !== undefined && version !== '1') {
    throw new HttpError(404, `model "${name}" has no version "${version}"; it has: 1`);
  }
  if (action === '/infer') {
    allowMethod(req, 'POST');
    await inferV2(req, res, s, ctx.maxBodyBytes);
  } else if (action === '/ready') {
    allowMethod(req, 'GET');
    sendJson(res, ctx.ready ? 200 : 503, { name, ready: ctx.ready });
  } else {
    allowMethod(req, 'GET');
    sendJson(res, 200, modelMetadata(s.model));
  }
}

async function modelV1(
  ctx: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  setRoute: (route: string) => void,
): Promise<void> {
  const name = decodeSegment(match[1]!);
  setRoute(match[2] ? '/v1/models/:model:predict' : '/v1/models/:model');
  const s = lookup(ctx, name);
  if (match[2]) {
    allowMethod(req, 'POST');
    await predictV1(req, res, s, ctx.maxBodyBytes);
  } else {
    allowMethod(req, 'GET');
    sendJson(res, 200, { name, ready: ctx.ready });
  }
}
