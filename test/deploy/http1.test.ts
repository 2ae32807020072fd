/**
 * The lean HTTP/1.1 client the Kubernetes adapter talks to API servers with, against a raw TCP
 * server that writes answers byte by byte as a server on a slow network would: every framing
 * HTTP/1.1 allows, kept sockets, a server closing them, deadlines, aborts and malformed answers.
 * (TLS and the real API double: test/deploy/kubernetes-*.test.ts.)
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Pool, type Http1Request } from '../../src/adapters/kubernetes/http1.js';

interface Raw {
  pool: Http1Pool;
  /** Requests as the server read them (head and body text), per connection. */
  seen: string[][];
  server: Server;
}

const open: Raw[] = [];

/** A server whose `answer` writes each request's answer on the socket however it likes. */
async function raw(
  answer: (socket: Socket, request: string, index: number) => void,
  maxSockets = 2,
): Promise<Raw> {
  const seen: string[][] = [];
  let count = 0;
  const server = createServer((socket) => {
    const mine: string[] = [];
    seen.push(mine);
    let buffered = '';
    socket.on('data', (chunk) => {
      // latin1: one character per byte, so Content-Length counts characters here.
      buffered += chunk.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.slice(0, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        mine.push(Buffer.from(request, 'latin1').toString('utf8'));
        answer(socket, request, count++);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const pool = new Http1Pool(
    { host: '127.0.0.1', port, hostHeader: `127.0.0.1:${port}` },
    maxSockets,
  );
  const r = { pool, seen, server };
  open.push(r);
  return r;
}

/** Writes `text` one byte at a time, a turn of the event loop apart. */
async function dribble(socket: Socket, text: string | Buffer): Promise<void> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (const byte of bytes) {
    socket.write(Buffer.from([byte]));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

const get = (extra: Partial<Http1Request> = {}): Http1Request => ({
  method: 'GET',
  path: '/api/v1',
  headers: { accept: 'application/json' },
  timeoutMs: 5000,
  ...extra,
});

afterEach(async () => {
  for (const r of open.splice(0)) {
    r.pool.destroy();
    await new Promise((resolve) => r.server.close(resolve));
  }
});

describe('the lean HTTP/1.1 client', () => {
  it('sends one well-formed request and reuses the kept socket for the next', async () => {
    const r = await raw((socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      ),
    );
    const first = await r.pool.request(
      get({ method: 'PATCH', body: '{"é":1}', headers: { 'content-type': 'application/json' } }),
    );
    const second = await r.pool.request(get());
    expect(first).toEqual({ status: 200, body: '{}' });
    expect(second).toEqual({ status: 200, body: '{}' });
    expect(r.seen).toHaveLength(1);
    const [request] = r.seen[0]!;
    expect(request).toMatch(/^PATCH \/api\/v1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    // Content-Length counts bytes, not characters.
    expect(request).toContain('Content-Length: 8\r\n\r\n{"é":1}');
  });

  it('reads a chunked answer delivered byte by byte, with a character split across chunks', async () => {
    const body = Buffer.concat([
      Buffer.from('4\r\n{"a"\r\n'),
      Buffer.from('3;ext=1\r\n:"\xc3', 'latin1'),
      Buffer.from('\r\n4\r\n\xa9"}\n\r\n0\r\nX-Trailer: t\r\n\r\n', 'latin1'),
    ]);
    const r = await raw((socket) => {
      void dribble(
        socket,
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), body]),
      );
    });
    expect(await r.pool.request(get())).toEqual({ status: 200, body: '{"a":"é"}\n' });
    // The socket is kept after a chunked answer.
    expect(await r.pool.request(get())).toEqual({ status: 200, body: '{"a":"é"}\n' });
    expect(r.seen).toHaveLength(1);
  });

  it('streams a body as text to the sink the head asked for', async () => {
    const r = await raw((socket) => {
      void (async () => {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (const line of ['{"type":"ADDED"}\n', '{"type":"MODIFIED"}\n']) {
          await dribble(socket, `${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
        }
        socket.write('0\r\n\r\n');
      })();
    });
    let text = '';
    const answer = await r.pool.request(get({ onHead: () => (t) => (text += t) }));
    expect(answer).toEqual({ status: 200, body: '' });
    expect(text).toBe('{"type":"ADDED"}\n{"type":"MODIFIED"}\n');
  });

  it('reads a body that ends with the connection, and does not keep that socket', async () => {
    const r = await raw((socket) => socket.end('HTTP/1.1 200 OK\r\n\r\nuntil close'));
    expect(await r.pool.request(get())).toEqual({ status: 200, body: 'until close' });
    expect(await r.pool.request(get())).toEqual({ status: 200, body: 'until close' });
    expect(r.seen).toHaveLength(2);
  });

  it('opens a new socket after Connection: close, and skips an interim 100 answer', async () => {
    const r = await raw((socket) =>
      socket.write(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 3\r\n\r\nyes',
      ),
    );
    expect(await r.pool.request(get())).toEqual({ status: 201, body: 'yes' });
    expect(await r.pool.request(get())).toEqual({ status: 201, body: 'yes' });
    expect(r.seen).toHaveLength(2);
  });

  it('reads no body for 204 and for HEAD, and keeps the socket', async () => {
    const r = await raw((socket, _request, i) =>
      socket.write(
        i === 0
          ? 'HTTP/1.1 204 No Content\r\n\r\n'
          : 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n',
      ),
    );
    expect(await r.pool.request(get({ method: 'DELETE' }))).toEqual({ status: 204, body: '' });
    expect(await r.pool.request(get({ method: 'HEAD' }))).toEqual({ status: 200, body: '' });
    expect(r.seen).toHaveLength(1);
  });

  it('queues requests beyond its sockets and sends each when one is free', async () => {
    const r = await raw((socket) => {
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nk'), 20);
    }, 2);
    const answers = await Promise.all(Array.from({ length: 7 }, () => r.pool.request(get())));
    expect(answers.every((a) => a.body === 'k')).toBe(true);
    expect(r.seen).toHaveLength(2);
    expect(r.seen.flat()).toHaveLength(7);
  });

  it('notices the server closing an idle kept socket and opens a new one', async () => {
    const r = await raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nk');
      setTimeout(() => socket.end(), 5);
    });
    await r.pool.request(get());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await r.pool.request(get())).toEqual({ status: 200, body: 'k' });
    expect(r.seen).toHaveLength(2);
  });

  it('fails as a stale socket (ECONNRESET, to send again) when the socket closes before any answer', async () => {
    const r = await raw((socket) => socket.destroy());
    await expect(r.pool.request(get())).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('fails an answer cut short, and never takes the cut socket again', async () => {
    const r = await raw((socket, _request, i) =>
      i === 0
        ? socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')
        : socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    );
    await expect(r.pool.request(get())).rejects.toThrow(/closed the connection mid-answer/);
    expect(await r.pool.request(get())).toEqual({ status: 200, body: 'ok' });
  });

  it('fails at its deadline when the server says nothing, and frees the socket slot', async () => {
    const r = await raw((socket, _request, i) => {
      if (i > 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }, 1);
    await expect(r.pool.request(get({ timeoutMs: 100 }))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(await r.pool.request(get())).toEqual({ status: 200, body: 'ok' });
  });

  it('stops on abort, before or during the answer', async () => {
    const r = await raw((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'));
    const early = new AbortController();
    early.abort();
    await expect(r.pool.request(get({ signal: early.signal }))).rejects.toMatchObject({
      name: 'AbortError',
    });
    const late = new AbortController();
    const pending = r.pool.request(get({ signal: late.signal, onHead: () => () => late.abort() }));
    setTimeout(() => late.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects a malformed answer and bytes the server sends beyond its answer', async () => {
    const r = await raw((socket, _request, i) =>
      socket.write(
        i === 0
          ? 'SSH-2.0-OpenSSH\r\n\r\n'
          : i === 1
            ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
            : 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nkEXTRA',
      ),
    );
    await expect(r.pool.request(get())).rejects.toThrow(/not an HTTP\/1\.1 answer/);
    await expect(r.pool.request(get())).rejects.toThrow(/malformed chunked body/);
    await expect(r.pool.request(get())).rejects.toThrow(/bytes after its answer/);
  });

  it('refuses a header that would split the request, without echoing its value', async () => {
    const r = await raw(() => undefined);
    const error = await r.pool
      .request(get({ headers: { authorization: 'Bearer secret\r\nX-Evil: 1' } }))
      .then(() => new Error('sent'))
      .catch((e: Error) => e);
    expect(error.message).toMatch(/invalid character in the "authorization" request header/);
    expect(error.message).not.toContain('secret');
    await expect(r.pool.request(get({ path: '/api v1' }))).rejects.toThrow(/request path/);
    expect(r.seen.flat()).toHaveLength(0);
  });

  it('fails every waiting request when destroyed', async () => {
    const r = await raw(() => undefined, 1);
    const first = r.pool.request(get());
    const second = r.pool.request(get());
    await new Promise((resolve) => setTimeout(resolve, 30));
    r.pool.destroy();
    const [a, b] = await Promise.allSettled([first, second]);
    expect(a.status).toBe('rejected');
    expect(b).toMatchObject({
      status: 'rejected',
      reason: { message: expect.stringMatching(/closed/) },
    });
  });
});
