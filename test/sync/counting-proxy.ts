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
  /**
   * Answer the next `times` requests with `status` and an error body shaped like the service
   * behind the proxy (S3: XML <Error><Code>; Azure: x-ms-error-code + XML), so SDKs parse it
   * as they would a real failure.
   */
  fail(
    times: number,
    status: number,
    code: string,
    style: 's3' | 'azure',
    /** Only requests of this operation ("PUT multipart", "PUT block", …). */
    only?: string,
  ): void;
  /** Request body bytes clients sent (object data uploaded). */
  bytesIn: { value: number };
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
  let fault:
    | { times: number; status: number; code: string; style: 's3' | 'azure'; only?: string }
    | undefined;
  const bytesIn = { value: 0 };
  const server: Server = createServer((req, res) => {
    const op = operationOf(req);
    counts.set(op, (counts.get(op) ?? 0) + 1);
    req.on('data', (d: Buffer) => (bytesIn.value += d.length));
    if (fault && fault.times > 0 && (fault.only === undefined || fault.only === op)) {
      fault.times--;
      const { status, code, style } = fault;
      req.resume();
      const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected ${status} ${code}</Message><RequestId>1</RequestId></Error>`;
      res.writeHead(status, {
        'content-type': 'application/xml',
        ...(style === 'azure' ? { 'x-ms-error-code': code, 'x-ms-request-id': '1' } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : xml);
      return;
    }
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
    fail: (times, status, code, style, only) => {
      fault = { times, status, code, style, ...(only ? { only } : {}) };
    },
    bytesIn,
    reset: () => {
      counts.clear();
      bytesOut.value = 0;
      bytesIn.value = 0;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
