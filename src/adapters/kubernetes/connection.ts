/**
 * One cluster's connection to its API server: plain HTTP requests on one kept-alive HTTPS agent,
 * with the kubeconfig's authentication applied to each by @kubernetes/client-node
 * (`applyToHTTPSOptions`: bearer token, token file, client certificate, exec plugin, auth
 * provider, basic auth, impersonation, skip-TLS-verify, TLS server name). Bodies are text: the
 * callers JSON.parse and JSON.stringify them directly.
 *
 * Why not the client's generated request pipeline: it builds a new `https.Agent` for every request
 * (a new TLS secure context and a full handshake each time), and its middleware and
 * ObjectSerializer cost about as much CPU per request again as the request itself; at 30 clusters
 * × ~30 requests that was most of mcml's CPU. Requests to one cluster now share sockets and one
 * secure context; a changed credential (an exec plugin rotating a client certificate) gets a new
 * agent.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest, type AgentOptions, type RequestOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Sockets (TLS connections) per cluster: one for requests while a watch holds the other. At 30
 * clusters on one machine a third connection per cluster cost ~10 ms of CPU per cluster on
 * each side (its handshake, and the interleaving it allows), more than the round trips it saves;
 * the requests beyond 2 wait in the agent's queue and go out the moment a socket is free.
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

type TlsMaterial = Pick<
  AgentOptions,
  'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'
>;

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

/** `?a=b&c=d`, or nothing. */
function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  const text = new URLSearchParams(query).toString();
  return text ? `?${text}` : '';
}

export class ClusterConnection {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #https: boolean;
  readonly #proxied: boolean;
  #kept: { material: TlsMaterial; agent: Agent } | undefined;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig context has no cluster');
    this.#kc = kc;
    this.#server = cluster.server.replace(/\/+$/, '');
    this.#https = this.#server.startsWith('https:');
    this.#proxied = Boolean(cluster.proxyUrl);
  }

  /**
   * Sends once more when the kept socket had just been closed by the server (its keep-alive
   * timeout raced our reuse): what mcml sends (reads, server-side apply, delete, the service
   * proxy's model reads and inference) is safe to repeat.
   */
  async send(method: string, path: string, options: SendOptions): Promise<ApiAnswer> {
    return this.#sendOnce(method, path, options).catch((error: unknown) => {
      if (isStaleSocket(error)) return this.#sendOnce(method, path, options);
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
    const open = () => this.#open('GET', path + queryString(query), { signal });
    // A kept socket the server had just closed fails before any answer: open it again.
    const res = await open().catch((error: unknown) => {
      if (isStaleSocket(error) && !signal.aborted) return open();
      throw error;
    });
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
      const body = await readAll(res);
      throw new HttpError(res.statusCode ?? 0, body);
    }
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let cut = pending.indexOf('\n');
        while (cut >= 0) {
          const line = pending.slice(0, cut);
          pending = pending.slice(cut + 1);
          if (line.trim() !== '') onLine(line);
          cut = pending.indexOf('\n');
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
      res.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
    });
  }

  /** Closes the kept sockets. */
  close(): void {
    this.#kept?.agent.destroy();
    this.#kept = undefined;
  }

  async #sendOnce(method: string, path: string, options: SendOptions): Promise<ApiAnswer> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const res = await this.#open(method, path + queryString(options.query), {
      signal,
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.accept ? { accept: options.accept } : {}),
    });
    return { status: res.statusCode ?? 0, body: await readAll(res) };
  }

  async #open(
    method: string,
    pathAndQuery: string,
    options: { signal: AbortSignal; body?: string; contentType?: string; accept?: string },
  ): Promise<IncomingMessage> {
    const opts: RequestOptions = { method, headers: {} };
    await this.#kc.applyToHTTPSOptions(opts);
    const headers = opts.headers as Record<string, string>;
    // JSON from the API server; whatever a service behind the proxy answers (the health gate).
    headers.accept = options.accept ?? 'application/json, */*;q=0.8';
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const agent = this.#agent(opts.agent);
    const send = this.#https ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        this.#server + pathAndQuery,
        {
          method,
          headers,
          ...(agent ? { agent } : {}),
          ...(opts.auth ? { auth: opts.auth } : {}),
          signal: options.signal,
        },
        resolve,
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** The kept agent in place of the one the kubeconfig made (same TLS material), else that one. */
  #agent(made: RequestOptions['agent']): Agent | HttpAgent | undefined {
    if (this.#proxied || !this.#https || !(made instanceof Agent)) {
      return made instanceof HttpAgent ? made : undefined;
    }
    const material = made.options as TlsMaterial;
    const kept = this.#kept;
    if (kept && MATERIAL_KEYS.every((k) => same(kept.material[k], material[k]))) return kept.agent;
    kept?.agent.destroy();
    const { ca, cert, key, pfx, passphrase } = material;
    const agent = new Agent({
      ...material,
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }),
    });
    this.#kept = { material, agent };
    return agent;
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

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk as string;
  return body;
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
