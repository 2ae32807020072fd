/**
 * `mcml failover drill` end to end (bin/mcml): the in-process drill, and a drill of a running
 * controller that is interrupted (Ctrl-C, SIGTERM) or killed outright. The target must never
 * stay out of rotation: an interrupted drill restores it, a killed one loses its lease and
 * the controller restores it (issue 14 #9).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  startFailover,
  type FailoverLogEntry,
  type RunningFailover,
} from '../../src/engines/failover/index.js';
import { failoverSpec } from './spec.js';
import { startUpstream, type Upstream } from './upstreams.js';

const bin = join(import.meta.dirname, '../../bin/mcml');
const TOKEN = 'drill-admin-token';

function spawnMcml(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, NO_COLOR: '1', MCML_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => out };
}

function nextEvent(fo: RunningFailover, match: (e: FailoverLogEntry) => boolean, ms = 20_000) {
  return new Promise<FailoverLogEntry>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('event did not come')), ms);
    const on = (e: FailoverLogEntry) => {
      if (!match(e)) return;
      clearTimeout(timer);
      fo.events.off('event', on);
      resolve(e);
    };
    fo.events.on('event', on);
  });
}

describe('mcml failover drill', () => {
  let dir: string;
  let ups: Upstream[] = [];
  let specFile: string;
  let fo: RunningFailover | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcml-drill-'));
    ups = await Promise.all(['a', 'b'].map((n) => startUpstream(n)));
    specFile = join(dir, 'mcml.yaml');
    await writeFile(
      specFile,
      `service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
targets:
${ups.map((u) => `  - { name: ${u.name}, provider: local, region: local, endpoint: "${u.url}" }`).join('\n')}
failover:
  check: { interval: 300ms, timeout: 2s }
  frontDoor: { port: 0 }
`,
    );
  });
  afterEach(async () => {
    await fo?.close();
    fo = undefined;
  });
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  const controller = () =>
    startFailover({
      spec: failoverSpec(
        ups.map((u) => ({ name: u.name, url: u.url })),
        `check: { interval: 300ms, timeout: 2s }
frontDoor: { port: 0 }`,
      ),
      adminToken: TOKEN,
    });

  it('drills in process: traffic moves, nothing fails, the target comes back', async () => {
    const drill = spawnMcml([
      'failover',
      'drill',
      'a',
      '-f',
      specFile,
      '--hold',
      '300ms',
      '--json',
    ]);
    expect((await drill.exited).code).toBe(0);
    const result = JSON.parse(drill.output()) as Record<string, unknown>;
    expect(result).toMatchObject({
      target: 'a',
      mode: 'in-process',
      wasActive: true,
      switchedTo: 'b',
      failedRequests: 0,
    });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`a ${signal} during the hold puts the target back before the drill exits`, async () => {
      fo = await controller();
      const running = fo;
      const out = nextEvent(running, (e) => e.type === 'disabled' && e.target === 'a');
      const drill = spawnMcml([
        'failover',
        'drill',
        'a',
        '-f',
        specFile,
        '--url',
        running.url!,
        '--hold',
        '60s',
      ]);
      await out;
      expect(running.status().active).toBe('b');
      drill.child.kill(signal);
      const { code } = await drill.exited;
      expect(code).toBe(130);
      expect(drill.output()).toContain(`interrupted by ${signal}`);
      expect(drill.output()).toContain('a restored');
      expect(running.status().targets.find((t) => t.name === 'a')?.disabled).toBe(false);
    });
  }

  it('a drill killed outright loses its lease: the controller puts the target back', async () => {
    fo = await controller();
    const running = fo;
    const out = nextEvent(running, (e) => e.type === 'disabled' && e.target === 'a');
    const drill = spawnMcml([
      'failover',
      'drill',
      'a',
      '-f',
      specFile,
      '--url',
      running.url!,
      '--hold',
      '60s',
      '--lease',
      '1s',
    ]);
    await out;
    const leased = running.status().targets.find((t) => t.name === 'a');
    expect(leased).toMatchObject({ disabled: true, leaseUntil: expect.any(String) as string });
    const back = nextEvent(running, (e) => e.type === 'enabled' && e.target === 'a');
    drill.child.kill('SIGKILL');
    await drill.exited;
    await back;
    expect(running.events.tail(20).map((e) => e.type)).toContain('lease-expired');
    expect(running.status().targets.find((t) => t.name === 'a')?.disabled).toBe(false);
  });

  it('a lease cannot end an outage someone declared by hand', async () => {
    fo = await controller();
    const post = (path: string) =>
      request(`${fo!.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    const manual = await post('/_mcml/targets/a/fail');
    expect(manual.statusCode).toBe(200);
    await manual.body.dump();
    const leased = await post('/_mcml/targets/a/fail?lease=1s');
    expect(leased.statusCode).toBe(409);
    expect(await leased.body.text()).toMatch(/already out of rotation/);
    const bad = await post('/_mcml/targets/b/fail?lease=forever');
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    const drill = spawnMcml(['failover', 'drill', 'a', '-f', specFile, '--url', fo.url!]);
    expect((await drill.exited).code).toBe(2);
    expect(drill.output()).toMatch(/already out of rotation/);
    expect(fo.status().targets.find((t) => t.name === 'a')?.disabled).toBe(true);
  });
});
