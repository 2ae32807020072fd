/**
 * Fuzzing the failover front door (issue 14, "beyond the list"): random methods, request
 * targets, headers (jurisdiction, Connection lists, Expect, Upgrade, Host, X-Forwarded-*,
 * bearer tokens) and bodies, through the real front door to two well-behaved upstreams that
 * never answer 5xx. So any 5xx is the front door's own: none may come from what a client
 * sends, no response may leak a stack trace or an internal message, no target may be ejected
 * and the front door must keep serving. Runs are bounded (MCML_FUZZ_RUNS, default 200); a
 * failure prints the seed to replay it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFailover, type RunningFailover } from '../../src/engines/failover/index.js';
import { failoverSpec } from '../failover/spec.js';
import { methodArb, send, targetArb, violation, type RawRequest } from './serve-http.js';

const RUNS = Number(process.env.MCML_FUZZ_RUNS ?? 200);
const TOKEN = 'fuzz-admin-token-0123456789abcdef';

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** An upstream that answers everything it can parse with 200 (404 for a bad escape). */
async function politeUpstream(name: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      try {
        decodeURIComponent(req.url ?? '/');
      } catch {
        status = 400;
      }
      const text = JSON.stringify({ target: name, method: req.method, bytes: chunks.length });
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Header names whose values change how a proxy behaves, plus random ones. */
const headerArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant('X-Mcml-Jurisdiction'),
    fc.oneof(fc.constantFrom('eu', 'us', 'EU', ' eu ', 'zz', '', '__proto__'), printable(40)),
  ),
  fc.tuple(
    fc.constant('Connection'),
    fc.constantFrom(
      'keep-alive',
      'upgrade',
      'x-mcml-jurisdiction',
      'content-length',
      'host, authorization',
      'te, trailer',
    ),
  ),
  fc.tuple(fc.constant('Expect'), fc.constantFrom('100-continue', 'nonsense')),
  fc.tuple(fc.constant('Upgrade'), fc.constantFrom('websocket', 'h2c', 'x')),
  fc.tuple(fc.constant('TE'), fc.constantFrom('trailers', 'gzip', 'chunked')),
  fc.tuple(
    fc.constant('Host'),
    fc.oneof(fc.constantFrom('', '[::1]', 'evil.example'), printable(20)),
  ),
  fc.tuple(fc.constant('X-Forwarded-For'), printable(30)),
  fc.tuple(fc.constant('X-Forwarded-Host'), printable(30)),
  fc.tuple(
    fc.constant('Authorization'),
    fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      printable(40).map((t) => `Bearer ${t}`),
    ),
  ),
  fc.tuple(fc.constant('Content-Type'), fc.constantFrom('application/json', 'text/plain', '')),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), printable(60)),
);

const request: fc.Arbitrary<RawRequest> = fc
  .record({
    method: fc.oneof(
      { weight: 4, arbitrary: methodArb },
      { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'MKCOL', 'FOO', 'get') },
    ),
    target: targetArb(
      [
        '/v2/models/{}/infer',
        '/v2/models/{}',
        '/{}',
        '/{}/{}',
        '/_mcml/{}',
        '/_mcml/targets/{}/{}',
        '/_mcml/targets/{}/fail?lease={}',
        '/_mcml/status',
        '/_mcml/events',
        '/_mcml/metrics',
      ],
      ['iris', 'a', 'b', 'fail', 'restore', 'failback', 'status', 'ready', '1s', '0', '1e9'],
    ),
    headers: fc.array(headerArb, { maxLength: 5 }),
    body: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    ),
  })
  .map((r) => {
    const headers = r.headers;
    // A request without Host is invalid HTTP/1.1 (Node answers 400 itself): mostly send one.
    if (!headers.some(([k]) => k.toLowerCase() === 'host')) headers.unshift(['Host', '127.0.0.1']);
    return { method: r.method, target: r.target, headers, body: r.body };
  });

/** The response, or a failure naming the request when none comes within 10 s. */
async function answered<T>(response: Promise<T>, req: RawRequest): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within 10 s to ${JSON.stringify(req)}`)),
      10_000,
    );
  });
  try {
    return await Promise.race([response, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzzing the front door', () => {
  let ups: { url: string; server: Server }[] = [];
  let fo: RunningFailover;
  let port: number;

  beforeAll(async () => {
    ups = await Promise.all([politeUpstream('a'), politeUpstream('b')]);
    fo = await startFailover({
      spec: failoverSpec(
        [
          { name: 'a', url: ups[0]!.url, region: 'eu-west-1' },
          { name: 'b', url: ups[1]!.url, region: 'us-east-1' },
        ],
        // Checks far apart: only the fuzzed traffic could move anything.
        `routing: residency
check: { interval: 1h, timeout: 5s }
outlier: { consecutiveErrors: 2 }
frontDoor: { port: 0, maxBodyBytes: 128 }`,
      ),
      adminToken: TOKEN,
    });
    port = Number(new URL(fo.url!).port);
  });
  afterAll(async () => {
    await fo?.close();
    for (const u of ups) {
      u.server.closeAllConnections();
      await new Promise((r) => u.server.close(r));
    }
  });

  it('never answers a client with a 5xx or an internal detail, ejects nothing, keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const problem = violation(req, await answered(send(port, req), req));
        if (problem) throw new Error(problem);
        // A fuzzed admin request may take a target out by hand (it holds the token): undo it.
        for (const t of fo.status().targets) if (t.disabled) fo.restore(t.name);
      }),
      // Shrinking a failure can take long: report the smallest case found within the limit.
      { numRuns: RUNS, interruptAfterTimeLimit: 60_000 },
    );
    const events = fo.events.tail(200);
    expect(events.filter((e) => e.type === 'internal-error')).toEqual([]);
    expect(events.filter((e) => e.type === 'state' && e.to !== 'healthy')).toEqual([]);
    expect(fo.status().targets.map((t) => `${t.name}:${t.state}`)).toEqual([
      'a:healthy',
      'b:healthy',
    ]);
    const normal = await send(port, {
      method: 'POST',
      target: '/v2/models/iris/infer',
      headers: [
        ['Host', '127.0.0.1'],
        ['X-Mcml-Jurisdiction', 'us'],
      ],
      body: Buffer.from('{}'),
    });
    expect(normal.status).toBe(200);
    expect(normal.body).toContain('"target":"b"');
  }, 120_000);
});
