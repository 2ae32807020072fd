/**
 * A loopback HTTP proxy in front of an emulator that answers like AWS when it throttles or
 * refuses: the next N calls get ThrottlingException, or every call gets AccessDenied while
 * denial is on. Everything else goes through unchanged. Counts the calls.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxy {
  endpoint: string;
  throttleNext(n: number): void;
  deny(on: boolean): void;
  calls(): number;
  stop(): Promise<void>;
}

export async function startAwsFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  let throttle = 0;
  let denied = false;
  let calls = 0;
  const server: Server = createServer((req, res) => {
    calls++;
    const fail = (type: string, message: string) => {
      req.resume();
      const body = JSON.stringify({ __type: type, message });
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-errortype': type,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (denied)
      return fail(
        'AccessDeniedException',
        'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ce:GetCostAndUsage',
      );
    if (throttle > 0) {
      throttle--;
      return fail('ThrottlingException', 'Rate exceeded');
    }
    const forward = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttleNext: (n) => void (throttle = n),
    deny: (on) => void (denied = on),
    calls: () => calls,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
