/**
 * A target's service endpoint, as a Kubernetes Service is for a Deployment: one loopback port
 * that balances requests round-robin over the target's ready replicas, retrying on the next
 * replica when one refuses or drops a connection before answering. With no ready replica it
 * answers 503, so the failover front door sees the target as down and moves on. It also keeps
 * the target's request statistics for the dashboard.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../adapters/local/system-clock.js';
import { TrafficStats } from './traffic-stats.js';

export interface TargetServiceOptions {
  target: string;
  /** Base URLs of the replicas ready to serve, asked on every request. */
  endpoints: () => string[];
  host?: string;
  port?: number;
  clock?: Clock;
  maxBodyBytes?: number;
  /** Add `x-mcml-replica` to responses (default true). */
  replicaHeader?: boolean;
  /** Paths that count as health checks and are left out of the traffic statistics. */
  quietPaths?: string[];
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

/** A running target service. */
export class TargetService {
  readonly target: string;
  readonly stats = new TrafficStats();
  readonly #opts: TargetServiceOptions;
  readonly #clock: Clock;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  readonly #server: Server;
  #next = 0;
  #url = '';

  constructor(options: TargetServiceOptions) {
    this.target = options.target;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#server = createServer((req, res) => this.handle(req, res));
    this.#server.keepAliveTimeout = 5000;
  }

  /** The service's base URL, e.g. http://127.0.0.1:41234. */
  get url(): string {
    return this.#url;
  }

  async listen(): Promise<string> {
    const host = this.#opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port ?? 0, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://${host}:${port}`;
    return this.#url;
  }

  async close(): Promise<void> {
    if (this.#server.listening) {
      this.#server.closeAllConnections();
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    }
    await this.#agent.close();
  }

  /** Proxies one request (also usable from another server's request handler). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#proxy(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 502, { error: `proxy error: ${String(error)}` });
      else res.destroy();
    });
  }

  async #proxy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const quiet = (this.#opts.quietPaths ?? []).some((p) => req.url?.startsWith(p));
    const finish = (status: number) => {
      if (!quiet) {
        this.stats.record(this.#clock.now(), performance.now() - started, status >= 500);
      }
    };
    const body = await readBody(req, this.#opts.maxBodyBytes ?? 8 * 1024 * 1024);
    if (body === 'too-large') {
      sendJson(res, 413, { error: 'request body too large' });
      finish(413);
      return;
    }
    const endpoints = this.#opts.endpoints();
    if (endpoints.length === 0) {
      sendJson(res, 503, { error: `target ${this.target} has no ready replica` });
      finish(503);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < endpoints.length; attempt++) {
      const base = endpoints[this.#next++ % endpoints.length]!;
      try {
        const upstream = await request(base + (req.url ?? '/'), {
          method: (req.method ?? 'GET') as 'GET',
          headers,
          body: body.length > 0 ? body : null,
          dispatcher: this.#agent,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upstream.headers)) {
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        }
        if (this.#opts.replicaHeader !== false) out['x-mcml-replica'] = base;
        res.writeHead(upstream.statusCode, out);
        for await (const chunk of upstream.body) res.write(chunk as Buffer);
        res.end();
        finish(upstream.statusCode);
        return;
      } catch (error) {
        lastError = error;
        if (res.headersSent) {
          res.destroy();
          finish(502);
          return;
        }
      }
    }
    sendJson(res, 502, {
      error: `target ${this.target}: no replica answered (${String((lastError as Error)?.message ?? lastError)})`,
    });
    finish(502);
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
