/**
 * HTTP plumbing of `mcml serve`, free of model state: errors that carry a status, bounded
 * body reading, JSON parsing, request-target paths, method and bearer checks, and listening.
 */
import { constants } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { McmlError, httpStatusFor, isMcmlError } from '../../core/errors.js';

/** An error the client caused or must hear about, with its status and headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The client went away before its request was read: nobody to answer (logged as 499). */
export class ClientGone extends Error {}

/** Status recorded for requests whose client closed the connection first (as nginx does). */
export const CLIENT_CLOSED = 499;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Answers a failed request: its HttpError status, an McmlError's mapped status (503 with
 * Retry-After), or a logged 500 that says nothing of the cause. A gone client gets nothing.
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  log: Logger,
): void {
  if (error instanceof ClientGone || res.destroyed || req.socket.destroyed) {
    // Nobody to answer; not a server failure either (recorded as 499 when it closes).
    res.destroy();
    return;
  }
  let status: number;
  let message: string;
  let headers: Record<string, string> = {};
  if (error instanceof HttpError) {
    status = error.status;
    message = error.message;
    headers = error.headers;
  } else if (isMcmlError(error)) {
    status = httpStatusFor(error);
    message = error.message;
    if (status === 503) headers = { 'Retry-After': '1' };
  } else {
    status = 500;
    message = 'internal error';
    log.error({ err: error }, 'request failed');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message }, headers);
}

/** Reads the whole body, 413 beyond `limit` bytes (declared or streamed). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError(413, `request body exceeds the limit of ${limit} bytes`, {
      Connection: 'close',
    });
  const declared = Number(req.headers['content-length'] ?? NaN);
  const discard = () => {
    // Read and drop the rest so the client sees the 413 instead of a reset, within reason.
    let dropped = 0;
    req.on('data', (c: Buffer) => {
      dropped += c.length;
      if (dropped > 16 * limit) req.destroy();
    });
    req.resume();
  };
  if (Number.isFinite(declared) && declared > limit) {
    discard();
    return Promise.reject(tooLarge());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise<Buffer>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        discard();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', () => reject(new ClientGone()));
    req.once('close', () => {
      if (!req.complete) reject(new ClientGone());
    });
  });
}

export function parseJson(bytes: Buffer): unknown {
  if (bytes.length > constants.MAX_STRING_LENGTH) {
    throw new HttpError(
      413,
      'a JSON body this large cannot be parsed; use the binary data extension',
    );
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new HttpError(400, `malformed JSON: ${(error as Error).message}`);
  }
}

export function allowMethod(req: IncomingMessage, method: string): void {
  if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
    throw new HttpError(405, `${req.method} is not allowed here; use ${method}`, {
      Allow: method,
    });
  }
}

/** Throws 401 unless the request carries the bearer token (compared in constant time). */
export function authorize(req: IncomingMessage, token: string): void {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  const given = Buffer.from(m?.[1]?.trim() ?? '');
  const want = Buffer.from(token);
  if (given.length === want.length && timingSafeEqual(given, want)) return;
  req.resume();
  throw new HttpError(
    401,
    m ? 'the bearer token is not valid' : 'this endpoint needs Authorization: Bearer <token>',
    { 'WWW-Authenticate': 'Bearer realm="mcml"' },
  );
}

/** One path segment, percent-decoded; a malformed escape is the client's error (400). */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'the request path has a malformed percent-escape');
  }
}

/**
 * The path of a request target: origin-form (`/v2?x`) or absolute-form
 * (`http://host/v2`, which HTTP/1.1 servers must accept); anything else (`*`) has no path.
 */
export function targetPath(target: string): string {
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length) || '/';
  return path;
}

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(
          new McmlError('UNAVAILABLE', `port ${port} on ${host} is already in use`, {
            hint: 'stop the other process or pass another --port',
          }),
        );
      } else if (error.code === 'EACCES') {
        reject(new McmlError('PERMISSION_DENIED', `not allowed to listen on ${host}:${port}`));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        // The address given is not one of this machine's: the input is wrong, not the world.
        reject(
          new McmlError(
            'INVALID_ARGUMENT',
            error.code === 'ENOTFOUND'
              ? `cannot listen on ${host}: no such host name`
              : `cannot listen on ${host}: it is not an address of this machine`,
            {
              hint: "pass --host 0.0.0.0 (every interface), 127.0.0.1, or one of this machine's addresses",
            },
          ),
        );
      } else {
        reject(new McmlError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${error.message}`));
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
