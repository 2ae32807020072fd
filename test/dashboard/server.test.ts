import { createServer, type Server } from 'node:http';
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
  const handler = createDashboardHandler({ backend, adminToken: TOKEN, pushIntervalMs: 60_000 });
  server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('front door');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

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
});
