/** Request bodies at the front door: bounded reads, bounded streams, and JSON error answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, pipeline, type Readable } from 'node:stream';

/** A request body over the front door's limit. */
export class PayloadTooLarge extends Error {}

/** Answers with a JSON error body; a response already started can only be cut. */
export function jsonError(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** 413 with `connection: close`, naming the declared size when the client sent one. */
export function tooLarge(res: ServerResponse, maxBodyBytes: number, declared?: number): void {
  res.setHeader('connection', 'close');
  jsonError(res, 413, {
    error: 'payload_too_large',
    message:
      declared === undefined
        ? `request body is over the limit of ${maxBodyBytes} bytes`
        : `request body of ${declared} bytes is over the limit of ${maxBodyBytes}`,
  });
}

/** Reads a request body into memory, refusing more than `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new PayloadTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Whether the error (or one of its causes) is a body over the limit. */
export function isTooLarge(error: unknown): boolean {
  let e: unknown = error;
  for (let i = 0; i < 5 && e; i++) {
    if (e instanceof PayloadTooLarge) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Passes a request body through, failing once it is over `max` bytes. */
export function limitStream(req: IncomingMessage, max: number): Readable {
  let size = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > max) done(new PayloadTooLarge());
      else done(null, chunk);
    },
  });
  pipeline(req, limiter, () => undefined);
  return limiter;
}
