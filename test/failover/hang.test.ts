/**
 * A hung target costs about what a crash costs (issue 14 #7). A SIGSTOPped process accepts
 * connections and requests and never answers: without per-attempt limits every request sent
 * to it waits for the upstream timeout (here 10 minutes, so the clients' own 20 s limit
 * would fail them). With them, a waiting attempt is hedged to the next tier, the target is
 * ejected, and attempts still waiting on a target declared down move on at once.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startFailover,
  type FailoverLogEntry,
  type RunningFailover,
} from '../../src/engines/failover/index.js';
import { failoverSpec } from './spec.js';
import { observedTimeoutMs, startUpstream, type Upstream } from './upstreams.js';

// The clients give up after 20 s: far below the upstream timeout of the specs below.
const agent = new Agent({ connections: 16, headersTimeout: 20_000, bodyTimeout: 20_000 });

function waitForEvent(fo: RunningFailover, match: (e: FailoverLogEntry) => boolean) {
  return new Promise<FailoverLogEntry>((resolve) => {
    const on = (e: FailoverLogEntry) => {
      if (match(e)) {
        fo.events.off('event', on);
        resolve(e);
      }
    };
    fo.events.on('event', on);
  });
}

async function infer(url: string, i: number) {
  const post = i % 2 === 0;
  const res = await request(`${url}/v2/models/iris/infer`, {
    dispatcher: agent,
    method: post ? 'POST' : 'GET',
    ...(post ? { body: JSON.stringify({ i }) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, target: String(res.headers['x-mcml-target']), text };
}

/** An upstream that answers its health path and never answers anything else. */
async function startHungUpstream() {
  const arrived = new EventEmitter();
  const server: Server = createServer((req, res) => {
    if (req.url === '/v2/health/ready') {
      res.end('ok');
      return;
    }
    arrived.emit('request');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Resolves once `n` requests are waiting here. */
    waiting: async (n: number) => {
      for (let seen = 0; seen < n; seen++) await once(arrived, 'request');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a hung target', () => {
  let ups: Upstream[] = [];
  beforeAll(async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)));
  });
  afterAll(async () => {
    for (const u of ups) u.wake();
    await Promise.all(ups.map((u) => u.stop()));
    await agent.close();
  });

  it('SIGSTOP of the primary under load fails no request: hedged, ejected, served by the next tier', async () => {
    // The check timeout is also the hedge's floor: from observed latency, so a loaded machine
    // does not time out the healthy tier.
    const timeout = await observedTimeoutMs(ups[1]!.url);
    const fo = await startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        `check: { interval: 500ms, timeout: ${timeout}ms, failureThreshold: 3 }
frontDoor: { port: 0, upstreamTimeout: 10m }`,
      ),
    });
    const served: string[] = [];
    const failures: string[] = [];
    let running = true;
    const worker = async (w: number) => {
      for (let i = w; running; i += 8) {
        try {
          const r = await infer(fo.url!, i);
          if (r.status === 200) served.push(r.target);
          else failures.push(`${r.status} ${r.text}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    try {
      while (served.filter((t) => t === 'a').length < 50) await new Promise((r) => setImmediate(r));
      const ejected = waitForEvent(
        fo,
        (e) => e.type === 'state' && e.target === 'a' && e.to === 'unhealthy',
      );
      ups[0]!.hang();
      await ejected;
      const at = served.length;
      while (served.length < at + 200) await new Promise((r) => setTimeout(r, 10));
    } finally {
      running = false;
      await load;
      ups[0]!.wake();
      await fo.close();
    }
    expect(failures).toEqual([]);
    expect(served.slice(-100).every((t) => t === 'b')).toBe(true);
    const metrics = fo.metrics.registry.getSingleMetric('mcml_proxy_retries_total');
    const reasons = (await metrics!.get()).values.map((v) => v.labels.reason);
    expect(reasons).toEqual(expect.arrayContaining(['slow']));
  });

  it('an attempt with no answer within its limit goes to the next tier; the silent target is ejected', async () => {
    const hung = await startHungUpstream();
    const fo = await startFailover({
      spec: failoverSpec(
        [
          { name: 'hung', url: hung.url },
          { name: 'b', url: ups[1]!.url },
        ],
        // No active check during the test: only live traffic can tell the target is silent.
        `check: { interval: 1h, timeout: 300ms }
frontDoor: { port: 0, upstreamTimeout: 10m }`,
      ),
    });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await infer(fo.url!, i);
        expect(r).toMatchObject({ status: 200, target: 'b' });
      }
      const hungStatus = fo.status().targets[0]!;
      expect(hungStatus.state).toBe('unhealthy');
      expect(hungStatus.lastError).toMatch(/no answer within 300 ms/);
      expect(fo.status().active).toBe('b');
    } finally {
      await fo.close();
      await hung.stop();
    }
  });

  it('requests waiting on a target taken out of rotation move to the next tier at once', async () => {
    const hung = await startHungUpstream();
    const fo = await startFailover({
      spec: failoverSpec(
        [
          { name: 'hung', url: hung.url },
          { name: 'b', url: ups[1]!.url },
        ],
        // The attempt limit (at least the check timeout, 60 s) is beyond the clients' 20 s.
        `check: { interval: 1h, timeout: 60s }
frontDoor: { port: 0, upstreamTimeout: 10m }`,
      ),
    });
    try {
      const waiting = hung.waiting(4);
      const answers = Promise.all([0, 1, 2, 3].map((i) => infer(fo.url!, i)));
      await waiting;
      fo.fail('hung');
      for (const r of await answers) expect(r).toMatchObject({ status: 200, target: 'b' });
    } finally {
      await fo.close();
      await hung.stop();
    }
  });
});
