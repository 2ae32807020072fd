import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../src/apps/dashboard/server.js';
import type { DashboardState } from '../../src/apps/dashboard/state.js';
import { fakeBackend, type FakeBackend } from './fake-backend.js';

const TOKEN = 'b6f1c0ffee0ddba11b6f1c0ffee0ddba';
let server: Server;
let base: string;
let backend: FakeBackend;

beforeAll(async () => {
  backend = fakeBackend();
  const handler = createDashboardHandler({
    backend,
    adminToken: TOKEN,
    pushIntervalMs: 60_000,
    allowedHosts: ['mcml.example.com', '*.corp.example'],
  });
  server = createServer((req, res) => {
    // As the front door does: a handler that throws gets a 502 with its message.
    try {
      if (!handler(req, res)) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('front door');
      }
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${(error as Error).message}`);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A raw GET with the request target and Host header exactly as given (fetch normalizes both). */
function rawGet(
  target: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({
      hostname,
      port,
      method,
      path: target,
      headers,
      setHost: !('host' in headers),
    });
    req.once('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

const post = (path: string, token?: string, body?: unknown) =>
  fetch(base + path, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
    },
    body: body === undefined ? null : JSON.stringify(body),
  });

describe('dashboard HTTP', () => {
  it('serves the page to browsers at / and leaves API clients to the front door', async () => {
    const page = await fetch(`${base}/`, { headers: { accept: 'text/html,*/*' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script type="importmap">');
    expect(html).toContain('/_mcml/ui/app.js');
    const api = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
    expect(await api.text()).toBe('front door');
    expect(await (await fetch(`${base}/v2/models/iris/infer`)).text()).toBe('front door');
  });

  it('serves the compiled app and the vendored modules, and nothing outside them', async () => {
    for (const path of [
      '/_mcml/ui/app.js',
      '/_mcml/vendor/preact.js',
      '/_mcml/vendor/preact-hooks.js',
      '/_mcml/vendor/htm-preact.js',
      '/_mcml/vendor/htm.js',
      '/_mcml/vendor/uplot.js',
    ]) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      expect((await res.text()).length).toBeGreaterThan(100);
    }
    expect((await fetch(`${base}/_mcml/vendor/uplot.css`)).headers.get('content-type')).toMatch(
      /css/,
    );
    expect((await fetch(`${base}/_mcml/ui/..%2f..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/_mcml/api/nope`)).status).toBe(404);
    expect(await (await fetch(`${base}/_mcml/status`)).text()).toBe('front door');
  });

  it('answers the state as JSON', async () => {
    const res = await fetch(`${base}/_mcml/api/state`);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const state = (await res.json()) as DashboardState;
    expect(state.targets.map((t) => t.name)).toEqual(['aws-east', 'gcp-central', 'azure-east']);
    expect(state.active).toBe('aws-east');
  });

  it('refuses admin actions without the right token', async () => {
    for (const token of [undefined, 'wrong', TOKEN + 'x']) {
      const res = await post('/_mcml/api/targets/aws-east/fail', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
    }
    expect((await post('/_mcml/api/traffic')).status).toBe(401);
    expect((await fetch(`${base}/_mcml/api/targets/aws-east/fail`)).status).toBe(405);
    expect(backend.calls).toEqual([]);
  });

  it('fails and restores a target with the token, pushing the change over SSE', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/_mcml/api/stream`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const states: DashboardState[] = [];
    let buffered = '';
    const nextState = async () => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data) return JSON.parse(data.slice(6)) as DashboardState;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffered += new TextDecoder().decode(value);
      }
    };
    states.push(await nextState());
    expect(states[0]!.active).toBe('aws-east');

    const fail = await post('/_mcml/api/targets/aws-east/fail', TOKEN);
    expect(fail.status).toBe(200);
    expect(await fail.json()).toEqual({ ok: true, target: 'aws-east', action: 'fail' });
    // The push interval is a minute: this state arrives because of the change.
    const pushed = await nextState();
    expect(pushed.active).toBe('gcp-central');
    expect(pushed.events.at(-1)!.message).toMatch(/failover: aws-east → gcp-central/);

    expect((await post('/_mcml/api/targets/aws-east/restore', TOKEN)).status).toBe(200);
    expect((await nextState()).active).toBe('aws-east');
    controller.abort();
    expect(backend.calls).toEqual(['fail aws-east', 'restore aws-east']);
    expect((await post('/_mcml/api/targets/gcp-central/rollout')).status).toBe(401);
    const rollout = await post('/_mcml/api/targets/gcp-central/rollout', TOKEN);
    expect(await rollout.json()).toEqual({ ok: true, target: 'gcp-central', action: 'rollout' });
    expect(backend.calls.at(-1)).toBe('rollout gcp-central');
  });

  it('checks targets and traffic counts', async () => {
    const unknown = await post('/_mcml/api/targets/nope/fail', TOKEN);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await post('/_mcml/api/traffic', TOKEN, { count: 0 })).status).toBe(400);
    expect((await post('/_mcml/api/traffic', TOKEN, { count: 'lots' })).status).toBe(400);
    const ok = await post('/_mcml/api/traffic', TOKEN, { count: 7 });
    expect(await ok.json()).toMatchObject({ sent: 7, ok: 7 });
  });

  it('serves the metrics text', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await res.text()).toBe('mcml_up 1\n');
  });

  it('answers client mistakes with 4xx and no internal detail (issue 14 #17)', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '%ZZ']) {
      const res = await rawGet(`/_mcml/vendor/${name}`);
      expect([res.status, res.body], name).toEqual([404, '{"error":"not found"}']);
    }
    for (const action of ['fail', 'restore', 'rollout']) {
      const res = await post(`/_mcml/api/targets/%E0%A4%A/${action}`, TOKEN);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'the request path has a malformed percent-escape',
      });
    }
    expect((await rawGet('/_mcml/ui/%ZZ')).status).toBe(404);
    expect((await rawGet('/_mcml/api/state?count=%ZZ')).status).toBe(200);
    // Targets that are not plain paths are the front door's, whatever they contain.
    for (const target of ['//', '//evil.example/_mcml/api/state', '*']) {
      expect(await rawGet(target)).toEqual({ status: 200, body: 'front door' });
    }
  });

  describe('Host check against DNS rebinding (issue 14 #6)', () => {
    const paths = ['/_mcml/api/state', '/_mcml/api/stream', '/metrics', '/_mcml/ui/app.js'];

    it('refuses names it was not given, on every dashboard path', async () => {
      const calls = backend.calls.length;
      for (const host of ['evil.example', 'evil.example:8080', 'mcml.example.com.evil.example']) {
        for (const path of paths) {
          const res = await rawGet(path, { host });
          expect(res.status, `${host} ${path}`).toBe(403);
          expect(JSON.parse(res.body).error).toMatch(
            /DNS rebinding.*failover\.frontDoor\.allowedHosts/,
          );
        }
        const page = await rawGet('/', { host, accept: 'text/html' });
        expect(page.status).toBe(403);
        const admin = await rawGet(
          '/_mcml/api/targets/aws-east/fail',
          { host, authorization: `Bearer ${TOKEN}` },
          'POST',
        );
        expect(admin.status).toBe(403);
      }
      expect(backend.calls).toHaveLength(calls);
    });

    it('answers IP addresses, localhost and the configured names', async () => {
      const { port } = new URL(base);
      for (const host of [
        `127.0.0.1:${port}`,
        '10.1.2.3',
        `[::1]:${port}`,
        'localhost',
        `LOCALHOST:${port}`,
        'dash.localhost',
        'mcml.example.com',
        'mcml.example.com.',
        'a.b.corp.example:443',
      ]) {
        expect((await rawGet('/_mcml/api/state', { host })).status, host).toBe(200);
      }
      expect((await rawGet('/_mcml/api/state', { host: 'corp.example' })).status).toBe(403);
    });

    it('leaves the service itself to the front door under any name', async () => {
      const res = await rawGet('/v2/models/iris', { host: 'evil.example' });
      expect(res).toEqual({ status: 200, body: 'front door' });
    });
  });
});
