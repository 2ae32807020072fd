/**
 * End to end: three upstream processes on loopback, the controller and front door in this
 * process, real SIGKILLs. Load runs through the front door while the primary dies and comes
 * back; no client request may fail.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import {
  startFailover,
  type FailoverLogEntry,
  type RunningFailover,
} from '../../src/engines/failover/index.js';
import { failoverSpec } from './spec.js';
import { startUpstream, type Upstream } from './upstreams.js';

const agent = new Agent({ connections: 16 });

interface Load {
  served: Map<string, number>;
  failures: string[];
  order: string[];
  stop(): Promise<void>;
}

/** Keeps `workers` requests in flight through the front door, alternating GET and POST. */
function runLoad(url: string, workers = 4): Load {
  const load: Load = { served: new Map(), failures: [], order: [], stop: () => Promise.resolve() };
  let running = true;
  const worker = async (w: number) => {
    let i = 0;
    while (running) {
      i++;
      const post = (i + w) % 2 === 0;
      try {
        const res = await request(`${url}/v2/models/iris/infer`, {
          dispatcher: agent,
          method: post ? 'POST' : 'GET',
          ...(post
            ? { body: JSON.stringify({ i, w }), headers: { 'content-type': 'application/json' } }
            : {}),
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          load.failures.push(`${res.statusCode} ${text}`);
          continue;
        }
        const target = String(res.headers['x-mcml-target']);
        load.served.set(target, (load.served.get(target) ?? 0) + 1);
        load.order.push(target);
        if (post && JSON.parse(text).body !== JSON.stringify({ i, w })) {
          load.failures.push(`body not forwarded: ${text}`);
        }
      } catch (error) {
        load.failures.push(String(error));
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  load.stop = async () => {
    running = false;
    await all;
  };
  return load;
}

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

async function until(predicate: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('front door failover, end to end', () => {
  let ups: Upstream[] = [];
  let fo: RunningFailover | undefined;

  beforeAll(async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)));
  });
  afterEach(async () => {
    await fo?.close();
    fo = undefined;
    await Promise.all(
      ups.map((u) =>
        u.child.exitCode === null && u.child.signalCode === null ? Promise.resolve() : u.restart(),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.stop()));
    await agent.close();
  });

  const start = (extra = '', token?: string) =>
    startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        `check: { interval: 200ms, timeout: 2s, failureThreshold: 2, successThreshold: 2 }
stablePeriod: 1s
frontDoor: { port: 0, maxBodyBytes: 1024 }
${extra}`,
      ),
      ...(token ? { adminToken: token } : {}),
    });

  it('loses no request when the primary is SIGKILLed under load, then fails back after the stable period', async () => {
    fo = await start();
    const running = fo;
    expect(running.status().active).toBe('a');
    const load = runLoad(running.url!);
    await until(() => (load.served.get('a') ?? 0) >= 50, 'traffic on a');
    const failover = waitForEvent(running, (e) => e.type === 'active' && e.to === 'b');
    await ups[0]!.kill();
    await failover;
    const killedAt = load.order.length;
    await until(() => load.order.length > killedAt + 100, 'traffic after the failover');
    expect(load.order.slice(-50).every((t) => t === 'b')).toBe(true);
    expect(load.failures).toEqual([]);

    const healthy = waitForEvent(
      running,
      (e) => e.type === 'state' && e.target === 'a' && e.to === 'healthy',
    );
    const failback = waitForEvent(running, (e) => e.type === 'active' && e.to === 'a');
    await ups[0]!.restart();
    const healthyAt = Date.parse((await healthy).time);
    const back = await failback;
    expect(back.reason).toBe('failback');
    expect(Date.parse(back.time) - healthyAt).toBeGreaterThanOrEqual(1000);
    const backAt = load.order.length;
    await until(() => load.order.length > backAt + 50, 'traffic after the failback');
    await load.stop();
    expect(load.order.slice(-30).every((t) => t === 'a')).toBe(true);
    expect(load.failures).toEqual([]);
    const metrics = await (await fetch(`${running.url}/_mcml/metrics`)).text();
    // Every series about a target carries its cloud, as mcml serve's series do.
    expect(metrics).toMatch(
      /mcml_failovers_total\{from="a",to="b",reason="failover",cloud="local"\} 1/,
    );
    expect(metrics).toMatch(/mcml_proxy_retries_total\{target="a",cloud="local"/);
    expect(metrics).toMatch(/mcml_active_target\{target="a",cloud="local"\} 1/);
    expect(metrics).toMatch(/mcml_proxy_requests_total\{target="b",cloud="local",code="200"\}/);
    expect(metrics).toMatch(/mcml_health_checks_total\{target="c",cloud="local",result="ok"\}/);
    for (const line of metrics.split('\n')) {
      if (/^mcml_(target_up|active_target|health_check|proxy_)/.test(line)) {
        expect(line).toMatch(/cloud="/);
      }
    }
  });

  it('keeps headers, adds X-Mcml-Target, strips hop-by-hop, caps the body size', async () => {
    fo = await start();
    // node:http, not undici: undici will not send a Connection header that lists fields.
    const { res, text } = await new Promise<{ res: IncomingMessage; text: string }>(
      (resolve, reject) => {
        const req = httpRequest(
          `${fo!.url}/echo?q=1`,
          {
            method: 'POST',
            headers: {
              'x-custom': 'yes',
              connection: 'keep-alive, x-secret-hop',
              'x-secret-hop': 'no',
            },
          },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ res, text }));
          },
        );
        req.on('error', reject);
        req.end('hello');
      },
    );
    const echoed = JSON.parse(text) as {
      url: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-mcml-target']).toBe('a');
    expect(res.headers['x-upstream']).toBe('a');
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
    expect(echoed).toMatchObject({ url: '/echo?q=1', body: 'hello' });
    expect(echoed.headers['x-custom']).toBe('yes');
    expect(echoed.headers['x-secret-hop']).toBeUndefined();
    expect(echoed.headers['x-forwarded-for']).toBe('127.0.0.1');

    const big = await request(`${fo.url}/infer`, {
      dispatcher: agent,
      method: 'POST',
      body: 'x'.repeat(2000),
    });
    expect(big.statusCode).toBe(413);
    expect(await big.body.json()).toMatchObject({ error: 'payload_too_large' });
    // Chunked bodies have no length up front: the cap applies while reading.
    const chunked = await request(`${fo.url}/infer`, {
      dispatcher: agent,
      method: 'POST',
      body: Readable.from([1, 2, 3, 4].map(() => Buffer.alloc(400, 'y'))),
    });
    expect(chunked.statusCode).toBe(413);
    await chunked.body.dump();
  });

  it('answers 503 with a clear JSON body when every target is down', async () => {
    fo = await start();
    await Promise.all(ups.map((u) => u.kill()));
    const res = await request(`${fo.url}/x`, { dispatcher: agent });
    expect(res.statusCode).toBe(503);
    const body = (await res.body.json()) as { error: string; message: string };
    expect(['all_targets_failed', 'no_healthy_target']).toContain(body.error);
    expect(body.message).toMatch(/connection refused|no healthy target/);
  });

  it('survives an upstream that answers garbage and one that answers 503', async () => {
    const garbage = await startUpstream('g', { mode: 'garbage' });
    const busy = await startUpstream('s', { mode: '503' });
    const spec = failoverSpec(
      [
        { name: 'g', url: garbage.url, probes: [`${ups[1]!.url}/v2/health/ready`] },
        { name: 's', url: busy.url },
        { name: 'b', url: ups[1]!.url },
      ],
      `check: { interval: 5s }
frontDoor: { port: 0 }
outlier: { consecutiveErrors: 0 }`,
    );
    const local = await startFailover({ spec });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await request(`${local.url}/infer`, {
          dispatcher: agent,
          method: 'POST',
          body: '{}',
        });
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-mcml-target']).toBe('b');
        await res.body.dump();
      }
      const only = await startFailover({
        spec: failoverSpec(
          [{ name: 'g', url: garbage.url, probes: [`${ups[1]!.url}/v2/health/ready`] }],
          'frontDoor: { port: 0 }',
        ),
      });
      const res = await request(`${only.url}/x`, { dispatcher: agent });
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      await only.close();
    } finally {
      await local.close();
      await Promise.all([garbage.stop(), busy.stop()]);
    }
  });

  it('residency routing keeps a tagged request in its jurisdiction, or fails it', async () => {
    const spec = failoverSpec(
      [
        { name: 'a', url: ups[0]!.url, region: 'us-east-1' },
        { name: 'b', url: ups[1]!.url, region: 'eu-west-1' },
        { name: 'c', url: ups[2]!.url, region: 'europe-west4' },
      ],
      `routing: residency
check: { interval: 200ms, timeout: 2s, failureThreshold: 1 }
frontDoor: { port: 0 }`,
    );
    fo = await startFailover({ spec });
    const get = async (j?: string) => {
      const res = await request(`${fo!.url}/x`, {
        dispatcher: agent,
        ...(j ? { headers: { 'x-mcml-jurisdiction': j } } : {}),
      });
      const body = await res.body.text();
      return { status: res.statusCode, target: res.headers['x-mcml-target'], body };
    };
    expect(await get('eu')).toMatchObject({ status: 200, target: 'b' });
    expect(await get('us')).toMatchObject({ status: 200, target: 'a' });
    expect(await get()).toMatchObject({ status: 200, target: 'a' });
    await ups[0]!.kill();
    const us = await get('us');
    expect(us.status).toBe(503);
    expect(us.body).toMatch(/jurisdiction/);
    expect((await get('EU')).status).toBe(200);
  });

  it('admin actions need the bearer token; fail and restore move traffic', async () => {
    fo = await start('', 's3cret-token');
    const post = (path: string, token?: string) =>
      request(`${fo!.url}${path}`, {
        dispatcher: agent,
        method: 'POST',
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      });
    const denied = await post('/_mcml/targets/a/fail');
    expect(denied.statusCode).toBe(401);
    await denied.body.dump();
    const wrong = await post('/_mcml/targets/a/fail', 'nope');
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
    const ok = await post('/_mcml/targets/a/fail', 's3cret-token');
    expect(ok.statusCode).toBe(200);
    expect(((await ok.body.json()) as { active: string }).active).toBe('b');
    const served = await request(`${fo.url}/x`, { dispatcher: agent });
    expect(served.headers['x-mcml-target']).toBe('b');
    await served.body.dump();
    const unknown = await post('/_mcml/targets/zz/fail', 's3cret-token');
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
    const restored = await post('/_mcml/targets/a/restore', 's3cret-token');
    expect(restored.statusCode).toBe(200);
    await restored.body.dump();
    const log = JSON.stringify(fo.events.tail(100));
    expect(log).not.toContain('s3cret-token');
    expect(log).toContain('"disabled"');
  });

  it('streams large bodies both ways: a PUT streams through once, a large answer streams back', async () => {
    fo = await startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        'frontDoor: { port: 0, maxBodyBytes: 8388608 }',
      ),
    });
    // 3 MiB in 48 chunks, no Content-Length: PUT is not retry-safe, so it is not buffered.
    const chunk = Buffer.alloc(64 * 1024, 'z');
    const res = await request(`${fo.url}/upload`, {
      dispatcher: agent,
      method: 'PUT',
      body: Readable.from(Array.from({ length: 48 }, () => chunk)),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-mcml-target']).toBe('a');
    // The upstream echoes the body inside its JSON answer: over 3 MiB back, streamed.
    const echoed = (await res.body.json()) as { method: string; body: string };
    expect(echoed.method).toBe('PUT');
    expect(echoed.body.length).toBe(48 * chunk.length);
    expect(echoed.body).toMatch(/^z+$/);
  });

  it('shares a listening server: the intercept takes its paths, the rest is proxied', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      fo = await startFailover({
        spec: failoverSpec(
          ups.map((u) => ({ name: u.name, url: u.url })),
          'frontDoor: { port: 0 }',
        ),
        server,
        intercept: (req, res) => {
          if (req.url !== '/own') return false;
          res.end('mine');
          return true;
        },
      });
      expect(fo.url).toBe(`http://127.0.0.1:${port}`);
      const own = await request(`${fo.url}/own`, { dispatcher: agent });
      expect(await own.body.text()).toBe('mine');
      const proxied = await request(`${fo.url}/other`, { dispatcher: agent });
      expect(proxied.headers['x-mcml-target']).toBe('a');
      await proxied.body.dump();
      await fo.close();
      fo = undefined;
      // Closing the front door leaves the caller's server listening, with no handler of ours.
      expect(server.listening).toBe(true);
      expect(server.listenerCount('request')).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('a bug of its own answers a bare 500: the message goes to the event log, not the client', async () => {
    fo = await startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        'frontDoor: { port: 0 }',
      ),
      intercept: (req) => {
        if (req.url !== '/boom') return false;
        throw new TypeError("Cannot read properties of undefined (reading 'secretThing')");
      },
    });
    const res = await request(`${fo.url}/boom`, { dispatcher: agent });
    expect(res.statusCode).toBe(500);
    const text = await res.body.text();
    expect(JSON.parse(text)).toEqual({
      error: 'internal_error',
      message: 'the front door could not handle this request',
    });
    expect(fo.events.tail(10).find((e) => e.type === 'internal-error')).toMatchObject({
      error: expect.stringContaining('secretThing') as string,
    });
    const next = await request(`${fo.url}/fine`, { dispatcher: agent });
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });

  it("a jurisdiction no target runs in is the client's error (400), not an outage", async () => {
    fo = await startFailover({
      spec: failoverSpec(
        [
          { name: 'a', url: ups[0]!.url, region: 'us-east-1' },
          { name: 'b', url: ups[1]!.url, region: 'eu-west-1' },
        ],
        `routing: residency
frontDoor: { port: 0 }`,
      ),
    });
    const res = await request(`${fo.url}/x`, {
      dispatcher: agent,
      headers: { 'x-mcml-jurisdiction': 'zz' },
    });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(await res.body.text())).toMatchObject({
      error: 'unknown_jurisdiction',
      message: expect.stringMatching(/"zz".*targets run in: us, eu/) as string,
    });
  });
});
