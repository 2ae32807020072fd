/**
 * A raw HTTP/1.1 client for the serve and dashboard fuzzers: it writes the request target and
 * headers exactly as generated (node:http and fetch validate or normalize both), and reads one
 * response on a `Connection: close` socket. Plus the checks every fuzzed response must pass.
 */
import { connect } from 'node:net';
import fc from 'fast-check';

export interface RawRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends one request and resolves with its response (an event stream: its head only). */
export function send(port: number, request: RawRequest): Promise<RawResponse> {
  const head =
    `${request.method} ${request.target} HTTP/1.1\r\n` +
    request.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    `Content-Length: ${request.body.length}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    let done = false;
    const finish = () => {
      if (settled) return;
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, end < 0 ? undefined : end).split('\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
      if (!status) {
        settled = true;
        reject(new Error(`no HTTP response to ${request.method} ${request.target}: ${text}`));
        return;
      }
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const stream = headers.get('content-type')?.startsWith('text/event-stream') === true;
      if (!stream && !done) return;
      settled = true;
      socket.destroy();
      const raw = end < 0 ? '' : text.slice(end + 4);
      const chunked = headers.get('transfer-encoding') === 'chunked';
      resolve({ status: Number(status[1]), headers, body: chunked ? dechunk(raw) : raw });
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) finish();
    });
    socket.once('end', () => {
      done = true;
      finish();
    });
    socket.once('close', () => {
      done = true;
      finish();
    });
    socket.once('error', (error) => {
      // A reset after the response arrived (the server closed with unread bytes) still counts.
      if (Buffer.concat(chunks).includes('\r\n\r\n')) {
        done = true;
        finish();
        return;
      }
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), request.body]));
  });
}

/** The payload of a chunked body (as much as arrived). */
function dechunk(raw: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return out;
    const size = parseInt(raw.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** Things no response to any client may contain: stack frames, internal error names, paths. */
const LEAKS = [
  /\n\s+at /,
  /\b(TypeError|RangeError|ReferenceError|SyntaxError|URIError)\b/,
  /Cannot read propert/,
  /is not a function/,
  /Maximum call stack/,
  /node_modules|file:\/\/|\/work\//,
  /\[object Object\]/,
];

/** Why a response breaks the rules (a 5xx, a leak), or undefined when it is fine. */
export function violation(request: RawRequest, response: RawResponse): string | undefined {
  const what =
    `${request.method} ${request.target} (body ${JSON.stringify(request.body.toString('latin1').slice(0, 200))})` +
    ` -> ${response.status} ${response.body.slice(0, 300)}`;
  if (response.status >= 500) return `a client caused a ${response.status}: ${what}`;
  const leak = LEAKS.find((re) => re.test(response.body));
  if (leak) return `the response leaks ${leak}: ${what}`;
  return undefined;
}

/** Segments that have broken servers: bad escapes, traversal, Object.prototype names. */
export const HOSTILE_SEGMENTS = [
  '%ZZ',
  '%',
  '%E0%A4%A',
  '%2F',
  '%00',
  '%C0%AF',
  '..',
  '',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
];

/** A path segment: protocol words, hostile names, or random printable text. */
export function segmentArb(words: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...words) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    {
      weight: 2,
      // Printable ASCII except space (a space would end the request target).
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 12,
      }),
    },
  );
}

/**
 * A request target: a template whose `{}` are filled with segments, sometimes with more
 * segments or a query appended, or one of the odd forms (`*`, `//x`, absolute-form).
 */
export function targetArb(templates: string[], words: string[]): fc.Arbitrary<string> {
  const segment = segmentArb(words);
  const filled = fc
    .tuple(
      fc.constantFrom(...templates),
      fc.array(segment, { minLength: 4, maxLength: 4 }),
      fc.array(segment, { maxLength: 2 }),
      fc.option(fc.string({ maxLength: 10, unit: fc.constantFrom('a', '=', '&', '%', 'Z', '1') })),
    )
    .map(([template, fill, more, query]) => {
      let i = 0;
      const path = template.replace(/\{\}/g, () => fill[i++]!);
      const tail = more.length > 0 ? `/${more.join('/')}` : '';
      return `${path}${tail}${query === null ? '' : `?${query}`}`;
    });
  return fc.oneof(
    { weight: 12, arbitrary: filled },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '*',
        '//',
        '//evil.example/x',
        'http://example.test/v2',
        '/%',
        '/?',
      ),
    },
  );
}

export const methodArb = fc.constantFrom(
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
);
