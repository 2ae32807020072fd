/**
 * The public port of `mcml up` (front door, dashboard, /metrics). It is bound first, so "port
 * in use" fails before anything starts — and from that moment every request gets an answer:
 * 503 with `Retry-After` until start-up is done, never a connection left hanging.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McmlError } from '../../core/errors.js';

export interface PublicPort {
  server: Server;
  /** http://host:port (127.0.0.1 when bound to every interface). */
  url: string;
  /** Answers 503 while starting; returns whether it did (the front door's intercept). */
  answerWhileStarting(req: IncomingMessage, res: ServerResponse): boolean;
  /** Start-up is done: requests go through. */
  open(): void;
  close(): Promise<void>;
}

/** Seconds a client is told to wait while `mcml up` starts. */
const RETRY_AFTER_S = 1;

export async function bindPublicPort(host: string, port: number): Promise<PublicPort> {
  const server = createServer();
  let ready = false;
  // Until the front door attaches its own handler, this one answers everything.
  const starting = (_req: IncomingMessage, res: ServerResponse) => {
    if (server.listenerCount('request') > 1) return;
    answerStarting(res);
  };
  server.on('request', starting);
  await listen(server, host, port);
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    answerWhileStarting: (_req, res) => {
      if (ready) return false;
      answerStarting(res);
      return true;
    },
    open: () => {
      ready = true;
      server.off('request', starting);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answerStarting(res: ServerResponse): void {
  const body = JSON.stringify({
    error: 'starting',
    message: 'mcml up is starting; retry shortly',
  });
  res.writeHead(503, {
    'content-type': 'application/json',
    'retry-after': String(RETRY_AFTER_S),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new McmlError('CONFLICT', `port ${port} on ${host} is already in use`, {
              hint: 'stop what listens there, or pass --port N (0 picks a free port)',
            })
          : error.code === 'EACCES'
            ? new McmlError('PERMISSION_DENIED', `not allowed to listen on ${host}:${port}`, {
                hint: 'use a port above 1023, e.g. --port 8080',
              })
            : new McmlError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${error.message}`),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
