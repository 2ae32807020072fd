/**
 * A lean HTTP/1.1 client for one API server: a few kept-alive TLS (or TCP) sockets, one request
 * at a time on each, the request head and body written at once, the answer read by a small
 * state machine (Content-Length, chunked, or until close).
 *
 * Why not `node:https`: in a fresh process (every `mcml deploy`) its request machinery — the
 * ClientRequest and OutgoingMessage, the agent's socket bookkeeping, an IncomingMessage stream and
 * an async iterator per answer — runs cold, and at 30 clusters × ~25 requests it was about half of
 * mcml's CPU. 750 requests on 30 connections took 600 ms of CPU that way and 200 ms this way.
 * What the API server speaks is plain HTTP/1.1, the protocol kubectl falls back to without ALPN.
 *
 * Not supported, because the API server never needs them: pipelining, `Expect: 100-continue`,
 * upgrades. Proxies (a kubeconfig's `proxy-url`) keep the `node:https` path (`node-transport.ts`).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface Http1Endpoint {
  /** Host name or address, without the brackets of an IPv6 literal. */
  host: string;
  port: number;
  /** The Host header: host[:port] as the server URL spells it. */
  hostHeader: string;
  /** TLS options (secure context, server name, verification); absent for plain HTTP. */
  tls?: ConnectionOptions;
}

export interface Http1Request {
  method: string;
  /** Path and query string. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: string;
  /** A deadline for the whole exchange, from the call to the answer's last byte. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Called with the status once the head is read: a function it returns gets the body's text as
   * it arrives (a watch) and the answer's body is then empty; otherwise the body is buffered.
   */
  onHead?: (status: number) => ((text: string) => void) | undefined;
}

export interface Http1Answer {
  status: number;
  body: string;
}

/** The largest response head accepted (the API server's are well under 1 KiB). */
const MAX_HEAD = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_TARGET = /^\/[\x21-\x7e]*$/;

/** The fields of a network failure, as node's own errors carry them (errors.ts reads them). */
function failure(message: string, code: string, name?: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = code;
  if (name) error.name = name;
  return error;
}

/** `METHOD path HTTP/1.1` and the headers, validated as node:http would, then the body. */
function encodeRequest(endpoint: Http1Endpoint, req: Http1Request): string {
  if (!REQUEST_TARGET.test(req.path))
    throw new TypeError('the request path holds characters HTTP does not allow');
  let head = `${req.method} ${req.path} HTTP/1.1\r\nHost: ${endpoint.hostHeader}\r\n`;
  for (const name in req.headers) {
    const given = req.headers[name]!;
    for (const value of Array.isArray(given) ? given : [given]) {
      // Never the value in the message: it may be a credential.
      if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value))
        throw new TypeError(`invalid character in the "${name}" request header`);
      head += `${name}: ${value}\r\n`;
    }
  }
  if (req.body !== undefined) head += `Content-Length: ${Buffer.byteLength(req.body)}\r\n`;
  return `${head}\r\n${req.body ?? ''}`;
}

type BodyMode = 'none' | 'length' | 'chunked' | 'close';

/** One answer being read: head, then the body by its framing. */
class AnswerReader {
  status = 0;
  keepAlive = true;
  /** Some byte of the answer has arrived (a failure after that is not a stale socket). */
  started = false;
  done = false;
  #state: 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailer' | 'close' = 'head';
  #pending: Buffer | undefined;
  #left = 0;
  #parts: Buffer[] = [];
  #sink: ((text: string) => void) | undefined;
  #decoder: StringDecoder | undefined;

  constructor(
    private readonly method: string,
    private readonly onHead: Http1Request['onHead'],
  ) {}

  /** Consumes bytes; throws on a malformed answer. Bytes after the answer are an error. */
  push(chunk: Buffer): void {
    this.started = true;
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    while (buf.length > 0 && !this.done) buf = this.#step(buf);
    if (this.done && buf.length > 0) throw new Error('the server sent bytes after its answer');
  }

  /** The socket ended: completes a close-delimited body, else the answer was cut short. */
  end(): boolean {
    if (this.#state === 'close' && !this.done) this.#finish();
    return this.done;
  }

  body(): string {
    return this.#sink ? '' : Buffer.concat(this.#parts).toString('utf8');
  }

  #step(buf: Buffer): Buffer {
    switch (this.#state) {
      case 'head':
        return this.#head(buf);
      case 'length':
      case 'data':
      case 'close':
        return this.#data(buf);
      case 'size':
        return this.#size(buf);
      case 'data-end':
        if (buf.length < 2) return this.#wait(buf);
        if (buf[0] !== 13 || buf[1] !== 10) throw new Error('malformed chunked body');
        this.#state = 'size';
        return buf.subarray(2);
      case 'trailer':
        return this.#trailer(buf);
    }
  }

  #wait(buf: Buffer): Buffer {
    this.#pending = buf;
    return buf.subarray(buf.length);
  }

  #head(buf: Buffer): Buffer {
    const end = buf.indexOf(HEAD_END);
    if (end < 0) {
      if (buf.length > MAX_HEAD) throw new Error('the answer head is too large');
      return this.#wait(buf);
    }
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!statusLine) throw new Error(`not an HTTP/1.1 answer: ${lines[0]!.slice(0, 40)}`);
    const status = Number(statusLine[2]);
    const rest = buf.subarray(end + 4);
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (status >= 100 && status < 200 && status !== 101) return rest;
    this.status = status;
    const headers = parseHeaders(lines);
    const connection = headers.get('connection') ?? '';
    this.keepAlive =
      statusLine[1] === '1' ? !/\bclose\b/i.test(connection) : /\bkeep-alive\b/i.test(connection);
    this.#sink = this.onHead?.(status);
    if (this.#sink) this.#decoder = new StringDecoder('utf8');
    this.#frame(headers);
    return rest;
  }

  #frame(headers: Map<string, string>): void {
    const mode = bodyMode(this.method, this.status, headers);
    if (mode === 'none') return this.#finish();
    if (mode === 'chunked') {
      this.#state = 'size';
      return;
    }
    if (mode === 'close') {
      this.#state = 'close';
      this.keepAlive = false;
      return;
    }
    this.#left = Number(headers.get('content-length'));
    this.#state = 'length';
    if (this.#left === 0) this.#finish();
  }

  #data(buf: Buffer): Buffer {
    if (this.#state === 'close') {
      this.#deliver(buf);
      return buf.subarray(buf.length);
    }
    const take = Math.min(this.#left, buf.length);
    this.#deliver(take === buf.length ? buf : buf.subarray(0, take));
    this.#left -= take;
    if (this.#left === 0) {
      if (this.#state === 'length') this.#finish();
      else this.#state = 'data-end';
    }
    return buf.subarray(take);
  }

  #size(buf: Buffer): Buffer {
    const eol = buf.indexOf(CRLF);
    if (eol < 0) {
      if (buf.length > 1024) throw new Error('malformed chunked body');
      return this.#wait(buf);
    }
    const text = buf.toString('latin1', 0, eol).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(text)) throw new Error('malformed chunked body');
    this.#left = parseInt(text, 16);
    this.#state = this.#left === 0 ? 'trailer' : 'data';
    return buf.subarray(eol + 2);
  }

  #trailer(buf: Buffer): Buffer {
    const eol = buf.indexOf(CRLF);
    if (eol < 0) {
      if (buf.length > MAX_HEAD) throw new Error('the answer trailer is too large');
      return this.#wait(buf);
    }
    if (eol === 0) this.#finish();
    return buf.subarray(eol + 2);
  }

  #deliver(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.#sink) {
      const text = this.#decoder!.write(bytes);
      if (text) this.#sink(text);
    } else this.#parts.push(bytes);
  }

  #finish(): void {
    this.done = true;
    const tail = this.#decoder?.end();
    if (tail) this.#sink!(tail);
  }
}

function parseHeaders(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  return headers;
}

function bodyMode(method: string, status: number, headers: Map<string, string>): BodyMode {
  if (method === 'HEAD' || status === 204 || status === 304) return 'none';
  const coding = headers.get('transfer-encoding');
  if (coding !== undefined) {
    if (/(^|,)\s*chunked\s*$/i.test(coding)) return 'chunked';
    return 'close';
  }
  const length = headers.get('content-length');
  if (length === undefined) return 'close';
  if (!/^\d{1,15}$/.test(length)) throw new Error('malformed Content-Length');
  return 'length';
}

/** One kept socket and the exchange on it, if any. */
class Conn {
  exchange: Exchange | undefined;
  closed = false;
  constructor(
    readonly socket: Socket,
    private readonly onGone: (conn: Conn) => void,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('end', () => this.#gone(undefined));
    socket.on('close', () => this.#gone(undefined));
    socket.on('error', (error) => this.#gone(error));
  }

  #data(chunk: Buffer): void {
    const x = this.exchange;
    if (!x) {
      this.socket.destroy();
      return;
    }
    try {
      x.reader.push(chunk);
    } catch (error) {
      x.fail(error as Error);
      this.socket.destroy();
      return;
    }
    if (x.reader.done) x.complete();
  }

  #gone(error: Error | undefined): void {
    if (!this.closed) {
      this.closed = true;
      this.onGone(this);
    }
    const x = this.exchange;
    if (!x) return;
    if (!error && x.reader.end()) {
      x.complete();
      return;
    }
    if (x.reader.started)
      x.fail(error ?? failure('the server closed the connection mid-answer', 'ECONNRESET'));
    // Nothing of the answer came: the kept socket was closed under us (or never took it).
    else x.fail(failure(`socket hang up${error ? `: ${error.message}` : ''}`, 'ECONNRESET'));
  }
}

interface Exchange {
  reader: AnswerReader;
  complete(): void;
  fail(error: Error): void;
}

/** One request's promise, settled once: by its answer, a failure, its deadline or an abort. */
class Call {
  settled = false;
  conn: Conn | undefined;
  /** What giving up must undo (set by the pool: the socket, or the place in the queue). */
  onAbandon: () => void = () => undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = () =>
    this.#abandon(failure('the request was aborted', 'ABORT_ERR', 'AbortError'));

  constructor(
    readonly req: Http1Request,
    private readonly resolve: (answer: Http1Answer) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Starts the deadline and listens for the abort; false when the signal has already fired. */
  arm(): boolean {
    const { signal, timeoutMs } = this.req;
    if (signal?.aborted) {
      this.#onAbort();
      return false;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (timeoutMs !== undefined) {
      const late = failure(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT', 'TimeoutError');
      this.#timer = setTimeout(() => this.#abandon(late), timeoutMs);
    }
    return true;
  }

  settle(error: Error | undefined, answer?: Http1Answer): void {
    if (this.settled) return;
    this.settled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.req.signal?.removeEventListener('abort', this.#onAbort);
    if (error) this.reject(error);
    else this.resolve(answer!);
  }

  #abandon(error: Error): void {
    if (this.settled) return;
    this.onAbandon();
    this.settle(error);
  }
}

/** A cluster's kept sockets: at most `maxSockets`, requests beyond them queue. */
export class Http1Pool {
  readonly #endpoint: Http1Endpoint;
  readonly #max: number;
  readonly #idle: Conn[] = [];
  readonly #waiting: ((conn: Conn | Error) => void)[] = [];
  /** Every socket, connecting, busy or idle: `destroy` closes them all. */
  readonly #sockets = new Set<Socket>();
  #open = 0;
  #destroyed = false;

  constructor(endpoint: Http1Endpoint, maxSockets: number) {
    this.#endpoint = endpoint;
    this.#max = maxSockets;
  }

  /** Sends one request and reads its answer; rejects on a network failure or the deadline. */
  request(req: Http1Request): Promise<Http1Answer> {
    let wire: string;
    try {
      wire = encodeRequest(this.#endpoint, req);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<Http1Answer>((resolve, reject) => {
      const call = new Call(req, resolve, reject);
      const onConn = (got: Conn | Error) => this.#begin(call, got, wire);
      // Given up before its answer: a socket it holds cannot be reused, a place in the queue goes.
      call.onAbandon = () => (call.conn ? call.conn.socket.destroy() : this.#dequeue(onConn));
      if (call.arm()) this.#acquire(onConn);
    });
  }

  /** The call's socket (or why there is none): the request goes out and its answer is read. */
  #begin(call: Call, got: Conn | Error, wire: string): void {
    if (call.settled) {
      if (!(got instanceof Error)) this.#release(got);
      return;
    }
    if (got instanceof Error) return call.settle(got);
    call.conn = got;
    const reader = new AnswerReader(call.req.method, call.req.onHead);
    got.exchange = {
      reader,
      complete: () => {
        got.exchange = undefined;
        call.settle(undefined, { status: reader.status, body: reader.body() });
        if (reader.keepAlive && !got.closed) this.#release(got);
        else got.socket.destroy();
      },
      fail: (error) => {
        got.exchange = undefined;
        call.settle(error);
      },
    };
    got.socket.write(wire);
  }

  /** Closes every socket; requests in flight fail. */
  destroy(): void {
    this.#destroyed = true;
    this.#idle.length = 0;
    for (const socket of this.#sockets) socket.destroy();
    for (const wait of this.#waiting.splice(0)) wait(new Error('the connection was closed'));
  }

  #acquire(onConn: (conn: Conn | Error) => void): void {
    if (this.#destroyed) return onConn(new Error('the connection was closed'));
    const idle = this.#idle.pop();
    if (idle) {
      idle.socket.ref();
      return onConn(idle);
    }
    if (this.#open >= this.#max) {
      this.#waiting.push(onConn);
      return;
    }
    this.#open++;
    this.#connect().then(onConn, (error: Error) => {
      this.#open--;
      onConn(error);
      this.#next();
    });
  }

  #dequeue(onConn: (conn: Conn | Error) => void): void {
    const at = this.#waiting.indexOf(onConn);
    if (at >= 0) this.#waiting.splice(at, 1);
  }

  #release(conn: Conn): void {
    if (conn.closed || this.#destroyed) {
      conn.socket.destroy();
      return;
    }
    const next = this.#waiting.shift();
    if (next) return next(conn);
    // An idle kept socket does not hold the process open (as node's agent does it).
    conn.socket.unref();
    this.#idle.push(conn);
  }

  /** A slot freed by a closed socket goes to the next waiting request. */
  #next(): void {
    const next = this.#waiting.shift();
    if (next) this.#acquire(next);
  }

  #connect(): Promise<Conn> {
    const { host, port, tls } = this.#endpoint;
    return new Promise<Conn>((resolve, reject) => {
      const socket: Socket = tls
        ? tlsConnect({
            host,
            port,
            ...(isIP(host) || tls.servername !== undefined ? {} : { servername: host }),
            ...tls,
          })
        : netConnect({ host, port });
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      const ready = tls ? 'secureConnect' : 'connect';
      const onError = (error: Error) => reject(error);
      socket.once('error', onError);
      socket.once(ready, () => {
        socket.off('error', onError);
        resolve(new Conn(socket, (gone) => this.#gone(gone)));
      });
    });
  }

  #gone(conn: Conn): void {
    this.#open--;
    const at = this.#idle.indexOf(conn);
    if (at >= 0) this.#idle.splice(at, 1);
    this.#next();
  }
}
