/** HTTP helpers for the `mcml serve` tests: JSON calls, held requests, metric samples. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

// Response bodies are checked field by field; a loose type keeps the assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  headers: Headers;
  body: Json;
}

export async function call(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  if (res.headers.get('content-type')?.includes('json')) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body };
}

export function post(url: string, body: unknown): Promise<Reply> {
  return call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A V2 request with the binary tensor data extension: JSON header, then the raw bytes. */
export function postBinary(url: string, header: unknown, bytes: Buffer): Promise<Reply> {
  const json = Buffer.from(JSON.stringify(header));
  return call(url, {
    method: 'POST',
    headers: {
      'inference-header-content-length': String(json.length),
      'content-type': 'application/octet-stream',
    },
    body: Buffer.concat([json, bytes]),
  });
}

export function irisV2(rows: number[][]) {
  return {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }],
  };
}

/** One metric sample's value, for series whose labels include all of `labels`. */
export function metric(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

export interface HeldReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Json;
}

/**
 * Opens requests that send headers with `Expect: 100-continue`, and resolves once the server
 * has accepted every one (so each is known to the server, its body still to come). `send`
 * then writes all bodies.
 */
export async function heldRequests(
  url: string,
  bodies: Buffer[],
): Promise<{
  send(): void;
  responses: Promise<HeldReply>[];
}> {
  const continued: Promise<void>[] = [];
  const reqs = bodies.map((body) => {
    const req = httpRequest(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        expect: '100-continue',
      },
      agent: false,
    });
    continued.push(new Promise((resolve) => req.once('continue', () => resolve())));
    const response = new Promise<HeldReply>((resolve, reject) => {
      req.once('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
        );
      });
      req.once('error', reject);
    });
    req.flushHeaders();
    return { req, body, response };
  });
  await Promise.all(continued);
  return {
    send: () => reqs.forEach((r) => r.req.end(r.body)),
    responses: reqs.map((r) => r.response),
  };
}
