/**
 * Requests that arrive while `mcml up` starts get an answer — 503 with Retry-After until it is
 * ready — never a connection left hanging (#14.13).
 */
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../src/adapters/local/local-cluster.js';
import { getState, localExample, startUp, type UpProcess } from './helpers.js';

let up: UpProcess | undefined;
afterAll(async () => {
  await up?.stop();
});

/** One GET; resolves with the status and Retry-After, or rejects when the socket fails. */
function get(port: number, path: string, timeoutMs: number) {
  return new Promise<{ status: number; retryAfter: string | undefined; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            body,
          }),
        );
      });
      // A hang is the defect: give up long after any answer would have come.
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    },
  );
}

describe('mcml up while starting', () => {
  it('answers 503 with Retry-After to requests that arrive before it is ready', async () => {
    const port = await freeLoopbackPort();
    const starting = startUp(await localExample(), ['--port', String(port)]);
    starting.catch(() => undefined);
    // Connect as soon as the port accepts (buckets and replicas are still starting then).
    let early: Awaited<ReturnType<typeof get>> | undefined;
    let stateEarly: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 3000 && !early; i++) {
      try {
        early = await get(port, '/v2/models/iris', 30_000);
        stateEarly = await get(port, '/_mcml/api/state', 30_000);
      } catch (error) {
        if (!/ECONNREFUSED/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    up = await starting;
    expect(early).toBeDefined();
    expect(early!.status).toBe(503);
    expect(early!.retryAfter).toBe('1');
    expect(JSON.parse(early!.body)).toMatchObject({ error: 'starting' });
    expect(stateEarly!.status).toBe(503);
    // Once up, the same requests are served.
    expect((await get(port, '/v2/models/iris', 30_000)).status).toBe(200);
    const state = await getState(up.url);
    expect(state.targets.length).toBe(3);
  }, 180_000);
});
