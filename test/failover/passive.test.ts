/**
 * Passive ejection listens to the targets, not to the clients (issue 14 #1): a client that
 * provokes 500s (a malformed percent-escape) or sends what the proxy cannot forward
 * (`Expect: 100-continue`) must not eject anything, and even targets that really fail every
 * request are never all ejected by live traffic alone.
 */
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFailover, type RunningFailover } from '../../src/engines/failover/index.js';
import { failoverSpec } from './spec.js';
import { startUpstream, type Upstream } from './upstreams.js';

const agent = new Agent({ connections: 8 });

/** POST with `Expect: 100-continue`, the way curl sends bodies over 1 KiB. */
function postExpectingContinue(url: string, body: string) {
  return new Promise<{ status: number; target: string | undefined; text: string }>(
    (resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          agent: false,
          headers: { expect: '100-continue', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              target: res.headers['x-mcml-target'] as string | undefined,
              text,
            }),
          );
        },
      );
      req.on('continue', () => req.end(body));
      req.on('error', reject);
    },
  );
}

describe('passive ejection is not driven by clients', () => {
  let ups: Upstream[] = [];
  beforeAll(async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)));
  });
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.stop()));
    await agent.close();
  });

  const start = (ejectAfter: number) =>
    startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        // Checks far apart: only live traffic could move anything during the test.
        `check: { interval: 1h, timeout: 2s }
outlier: { consecutiveErrors: ${ejectAfter} }
frontDoor: { port: 0 }`,
      ),
    });

  const states = (fo: RunningFailover) => fo.status().targets.map((t) => `${t.name}:${t.state}`);

  it('a flood of client-provoked 500s ejects no target', async () => {
    const fo = await start(2);
    try {
      for (let i = 0; i < 30; i++) {
        const res = await request(`${fo.url}/v2/models/%ZZ/infer`, { dispatcher: agent });
        // The upstream's answer is relayed as it is: the front door does not hide it.
        expect(res.statusCode).toBe(500);
        await res.body.dump();
      }
      expect(states(fo)).toEqual(['a:healthy', 'b:healthy', 'c:healthy']);
      expect(fo.events.tail(100).filter((e) => e.type === 'state' && e.to !== 'healthy')).toEqual(
        [],
      );
      const normal = await request(`${fo.url}/v2/models/iris/infer`, { dispatcher: agent });
      expect(normal.statusCode).toBe(200);
      expect(normal.headers['x-mcml-target']).toBe('a');
      await normal.body.dump();
    } finally {
      await fo.close();
    }
  });

  it('forwards requests sent with Expect: 100-continue instead of failing every target', async () => {
    const fo = await start(2);
    try {
      for (let i = 0; i < 10; i++) {
        const r = await postExpectingContinue(`${fo.url}/v2/models/iris/infer`, `{"i":${i}}`);
        expect(r.status).toBe(200);
        expect(r.target).toBe('a');
        expect((JSON.parse(r.text) as { body: string }).body).toBe(`{"i":${i}}`);
      }
      expect(states(fo)).toEqual(['a:healthy', 'b:healthy', 'c:healthy']);
    } finally {
      await fo.close();
    }
  });

  it('targets that fail every request are never all ejected by live traffic', async () => {
    const busy = await Promise.all(['x', 'y'].map((n) => startUpstream(n, { mode: '503' })));
    const fo = await startFailover({
      spec: failoverSpec(
        busy.map((u) => ({ name: u.name, url: u.url })),
        `check: { interval: 1h, timeout: 2s }
outlier: { consecutiveErrors: 1, maxEjectionPercent: 100 }
frontDoor: { port: 0 }`,
      ),
    });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await request(`${fo.url}/x`, { dispatcher: agent });
        // The targets' own 503, relayed; never the front door's "no healthy target".
        expect(res.statusCode).toBe(503);
        expect(await res.body.text()).not.toContain('no_healthy_target');
      }
      expect(states(fo)).toEqual(['x:unhealthy', 'y:healthy']);
      expect(fo.events.tail(100).map((e) => e.type)).toContain('ejection-held');
    } finally {
      await fo.close();
      await Promise.all(busy.map((u) => u.stop()));
    }
  });
});
