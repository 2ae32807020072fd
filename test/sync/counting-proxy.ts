/**
 * A counting HTTP proxy for tests and benchmarks: put it in front of moto or Azurite and count
 * the API requests a client makes, by operation (method + query shape).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';

export interface CountingProxy {
  endpoint: string;
  port: number;
  counts: Map<string, number>;
  /** Response bytes of object GETs (bytes read from the store). */
  bytesOut: { value: number };
  total(): number;
  reset(): void;
  stop(): Promise<void>;
}

/** Names a request: "GET list", "PUT object", "HEAD object", "PUT block", … */
export function operationOf(req: IncomingMessage): string {
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams;
  const m = req.method ?? 'GET';
  if (q.has('list-type') || (m === 'GET' && q.get('comp') === 'list')) return `${m} list`;
  if (q.has('uploads') || q.has('uploadId')) return `${m} multipart`;
  if (q.get('comp') === 'block') return `${m} block`;
  if (q.get('comp') === 'blocklist') return `${m} blocklist`;
  if (q.has('location')) return `${m} location`;
  return `${m} object`;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const counts = new Map<string, number>();
  const bytesOut = { value: 0 };
  const server: Server = createServer((req, res) => {
    const op = operationOf(req);
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const upstream = request(
      {
        host: t.hostname,
        port: t.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (op === 'GET object') up.on('data', (d: Buffer) => (bytesOut.value += d.length));
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    counts,
    bytesOut,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => {
      counts.clear();
      bytesOut.value = 0;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
