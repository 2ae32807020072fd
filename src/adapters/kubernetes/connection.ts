/**
 * One cluster's connection to its API server: requests on a few kept-alive sockets
 * (`http1.ts`), with the kubeconfig's authentication applied to each by @kubernetes/client-node
 * (`applyToHTTPSOptions`: bearer token, token file, client certificate, exec plugin, auth
 * provider, basic auth, impersonation, skip-TLS-verify, TLS server name). Bodies are text: the
 * callers JSON.parse and JSON.stringify them directly.
 *
 * Why not the client's generated request pipeline: it builds a new `https.Agent` for every request
 * (a new TLS secure context and a full handshake each time), and its middleware and
 * ObjectSerializer cost about as much CPU per request again as the request itself; at 30 clusters
 * × ~30 requests that was most of mcml's CPU. Requests to one cluster share sockets and one
 * secure context; a changed credential (an exec plugin rotating a client certificate) gets new
 * sockets. A cluster behind a proxy (`proxy-url`) goes through `node:https` and the proxy agent the
 * kubeconfig made (`node-transport.ts`).
 */
import { Agent as HttpAgent, type RequestOptions } from 'node:http';
import { Agent } from 'node:https';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { Http1Pool, type Http1Answer, type Http1Endpoint, type Http1Request } from './http1.js';
import { nodeRequest } from './node-transport.js';

/**
 * Sockets (TLS connections) per cluster: one for requests while a watch holds the other. At 30
 * clusters on one machine a third connection per cluster cost ~10 ms of CPU per cluster on
 * each side (its handshake, and the interleaving it allows), more than the round trips it saves;
 * the requests beyond 2 wait in the pool's queue and go out the moment a socket is free.
 * One watch per cluster at a time (the rollout's): two would hold both sockets.
 */
const MAX_SOCKETS = 2;

export interface ApiAnswer {
  status: number;
  body: string;
}

export interface SendOptions {
  query?: Record<string, string>;
  /** The Accept header (default: JSON). */
  accept?: string;
  body?: string;
  contentType?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What one request carries besides its method and path. */
type Parts = Pick<Http1Request, 'body' | 'timeoutMs' | 'signal' | 'onHead'> & {
  accept?: string;
  contentType?: string;
};

interface TlsMaterial {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  pfx?: unknown;
  passphrase?: unknown;
  rejectUnauthorized?: unknown;
  servername?: unknown;
}

const MATERIAL_KEYS: (keyof TlsMaterial)[] = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
];

/** PEM buffers compare by bytes (per request: no copies), anything else as JSON text. */
function same(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (a === b) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The same TLS material (none: plain HTTP). */
function sameMaterial(a: TlsMaterial | undefined, b: TlsMaterial | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return MATERIAL_KEYS.every((k) => same(a[k], b[k]));
}

/** `?a=b&c=d`, or nothing. */
function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  const text = new URLSearchParams(query).toString();
  return text ? `?${text}` : '';
}

/** The TLS options of the kept sockets: one secure context, and only what the kubeconfig set. */
function tlsOptions(material: TlsMaterial): ConnectionOptions {
  const { ca, cert, key, pfx, passphrase } = material as ConnectionOptions;
  return {
    secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }),
    // Unset stays unset: tls.connect's default (verify, or NODE_TLS_REJECT_UNAUTHORIZED=0).
    ...(typeof material.rejectUnauthorized === 'boolean'
      ? { rejectUnauthorized: material.rejectUnauthorized }
      : {}),
    ...(typeof material.servername === 'string' ? { servername: material.servername } : {}),
  };
}

export class ClusterConnection {
  readonly #kc: KubeConfig;
  readonly #server: string;
  /** Where the kept sockets go (TLS options aside), from the server URL. */
  readonly #endpoint: Omit<Http1Endpoint, 'tls'>;
  readonly #https: boolean;
  /** The server URL's path (a proxy's route to this cluster, e.g. Rancher's), before each path. */
  readonly #prefix: string;
  readonly #proxied: boolean;
  #kept: { material: TlsMaterial | undefined; pool: Http1Pool } | undefined;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig context has no cluster');
    this.#kc = kc;
    this.#server = cluster.server.replace(/\/+$/, '');
    const url = new URL(this.#server);
    this.#https = url.protocol === 'https:';
    this.#endpoint = {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port ? Number(url.port) : this.#https ? 443 : 80,
      hostHeader: url.host,
    };
    this.#prefix = url.pathname.replace(/\/+$/, '');
    this.#proxied = Boolean(cluster.proxyUrl);
  }

  /**
   * Sends once more when the kept socket had just been closed by the server (its keep-alive
   * timeout raced our reuse): what mcml sends (reads, server-side apply, delete, the service
   * proxy's model reads and inference) is safe to repeat.
   */
  async send(method: string, path: string, options: SendOptions): Promise<ApiAnswer> {
    const pathAndQuery = path + queryString(options.query);
    const parts: Parts = {
      timeoutMs: options.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.accept ? { accept: options.accept } : {}),
    };
    return this.#exchange(method, pathAndQuery, parts).catch((error: unknown) => {
      if (isStaleSocket(error)) return this.#exchange(method, pathAndQuery, parts);
      throw error;
    });
  }

  /**
   * A streamed GET (a watch): `onLine` gets each newline-terminated line of the body. Resolves
   * when the server ends the stream; rejects on a non-2xx answer (as an HttpError) or a
   * network failure. Aborting the signal ends it quietly.
   */
  async stream(
    path: string,
    query: Record<string, string>,
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let streaming = false;
    let pending = '';
    const onText = (text: string) => {
      pending += text;
      let cut = pending.indexOf('\n');
      while (cut >= 0) {
        const line = pending.slice(0, cut);
        pending = pending.slice(cut + 1);
        if (line.trim() !== '') onLine(line);
        cut = pending.indexOf('\n');
      }
    };
    const parts: Parts = {
      signal,
      onHead: (status) => {
        streaming = status >= 200 && status < 300;
        return streaming ? onText : undefined;
      },
    };
    const open = () => this.#exchange('GET', path + queryString(query), parts);
    let answer: Http1Answer;
    try {
      // A kept socket the server had just closed fails before any answer: open it again.
      answer = await open().catch((error: unknown) => {
        if (isStaleSocket(error) && !streaming && !signal.aborted) return open();
        throw error;
      });
    } catch (error) {
      if (streaming && signal.aborted) return;
      throw error;
    }
    if (!streaming) throw new HttpError(answer.status, answer.body);
  }

  /** Closes the kept sockets. */
  close(): void {
    this.#kept?.pool.destroy();
    this.#kept = undefined;
  }

  async #exchange(method: string, pathAndQuery: string, parts: Parts): Promise<Http1Answer> {
    const opts: RequestOptions = { method, headers: {} };
    await this.#kc.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, string>;
    // JSON from the API server; whatever a service behind the proxy answers (the health gate).
    headers.accept = parts.accept ?? 'application/json, */*;q=0.8';
    if (parts.body !== undefined) headers['content-type'] = parts.contentType ?? 'application/json';
    if (opts.auth && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
      headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const { accept: _accept, contentType: _contentType, ...rest } = parts;
    const request: Http1Request = { method, path: pathAndQuery, headers, ...rest };
    const agent = opts.agent;
    if (!(agent instanceof HttpAgent))
      throw new Error('the kubeconfig gave no HTTP agent for this cluster');
    if (this.#proxied) return nodeRequest(this.#server + pathAndQuery, agent, request);
    return this.#pool(agent).request({ ...request, path: this.#prefix + pathAndQuery });
  }

  /** The kept pool for the kubeconfig's TLS material; a new one when the material changed. */
  #pool(made: HttpAgent): Http1Pool {
    const material = made instanceof Agent ? (made.options as TlsMaterial) : undefined;
    const kept = this.#kept;
    if (kept && sameMaterial(kept.material, material)) return kept.pool;
    kept?.pool.destroy();
    const tls = this.#https ? { tls: tlsOptions(material ?? {}) } : {};
    const pool = new Http1Pool({ ...this.#endpoint, ...tls }, MAX_SOCKETS);
    this.#kept = { material, pool };
    return pool;
  }
}

/** A non-2xx answer of the API server: its status code and body (a Status, usually). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`HTTP ${statusCode}`);
  }
}

/**
 * A request that failed because the kept socket it went out on had just been closed by the
 * server (its keep-alive timeout raced our reuse).
 */
export function isStaleSocket(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e; depth++) {
    const err = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return true;
    if (typeof err.message === 'string' && /socket hang up|ECONNRESET|EPIPE/.test(err.message))
      return true;
    e = err.cause;
  }
  return false;
}
