/**
 * Fuzzing the dashboard's HTTP side (issue 14, "beyond the list"): random methods, request
 * targets, Host and Authorization headers and bodies against the dashboard handler, mounted
 * as the front door mounts it (a handler that throws gets a 502 with its message). No
 * response may be a 5xx or leak an internal detail; the handler must keep answering.
 * Runs are bounded (MCML_FUZZ_RUNS, default 200); a failure prints the seed to replay it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../src/apps/dashboard/server.js';
import { fakeBackend } from '../dashboard/fake-backend.js';
import { methodArb, send, targetArb, violation, type RawRequest } from './serve-http.js';

const RUNS = Number(process.env.MCML_FUZZ_RUNS ?? 200);
const TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeed';

const printable = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

const request: fc.Arbitrary<RawRequest> = fc
  .record({
    method: fc.oneof({ weight: 2, arbitrary: fc.constantFrom('GET', 'POST') }, methodArb),
    target: targetArb(
      [
        '/',
        '/metrics',
        '/_mcml/api/{}',
        '/_mcml/api/targets/{}/{}',
        '/_mcml/api/targets/{}/fail',
        '/_mcml/api/traffic?count={}',
        '/_mcml/ui/{}',
        '/_mcml/vendor/{}',
        '/_mcml/{}',
      ],
      [
        'state',
        'stream',
        'targets',
        'traffic',
        'aws-east',
        'gcp-central',
        'fail',
        'restore',
        'rollout',
        'app.js',
        'preact.js',
        'uplot.css',
        '50',
        '0',
        '1e3',
      ],
    ),
    host: fc.oneof(
      fc.constantFrom('127.0.0.1', 'localhost:8080', '[::1]', 'evil.example', 'mcml.example.com'),
      printable(12),
    ),
    authorization: fc.option(
      fc.oneof(
        fc.constant(`Bearer ${TOKEN}`),
        printable(40).map((t) => `Bearer ${t}`),
      ),
    ),
    accept: fc.option(fc.constantFrom('text/html', 'application/json', '*/*')),
    body: fc.oneof(
      fc
        .oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ count: fc.jsonValue({ maxDepth: 1 }) }))
        .map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    ),
  })
  .map((r) => ({
    method: r.method,
    target: r.target,
    headers: [
      ['Host', r.host],
      ...(r.authorization === null ? [] : [['Authorization', r.authorization]]),
      ...(r.accept === null ? [] : [['Accept', r.accept]]),
    ] as [string, string][],
    body: r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : r.body,
  }));

describe('fuzzing the dashboard HTTP API', () => {
  let server: Server;
  let port: number;
  const thrown: unknown[] = [];

  beforeAll(async () => {
    const handler = createDashboardHandler({
      backend: fakeBackend(),
      adminToken: TOKEN,
      pushIntervalMs: 60_000,
      allowedHosts: ['mcml.example.com'],
    });
    server = createServer((req, res) => {
      try {
        if (!handler(req, res)) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('front door');
        }
      } catch (error) {
        thrown.push(error);
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`bad gateway: ${(error as Error).message}`);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('never answers a client with a 5xx or an internal detail', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const problem = violation(req, await send(port, req));
        if (problem) throw new Error(problem);
      }),
      { numRuns: RUNS },
    );
    expect(thrown).toEqual([]);
    const state = await send(port, {
      method: 'GET',
      target: '/_mcml/api/state',
      headers: [['Host', '127.0.0.1']],
      body: Buffer.alloc(0),
    });
    expect(state.status).toBe(200);
  });
});
