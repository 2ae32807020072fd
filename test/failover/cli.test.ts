/** `mcml failover` end to end: spawns node bin/mcml (built by `npm run build`). */
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import { startUpstream, type Upstream } from './upstreams.js';

const bin = join(import.meta.dirname, '../../bin/mcml');

function mcml(args: string[], env: Record<string, string> = {}) {
  return promisify(execFile)(process.execPath, [bin, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

const service = `service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
`;

describe('mcml failover (CLI)', () => {
  let dir: string;
  let ups: Upstream[];
  let bind: Bind;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcml-fo-cli-'));
    [bind, ...ups] = await Promise.all([startBind(), startUpstream('a'), startUpstream('b')]);
  });
  afterAll(async () => {
    await Promise.all([bind?.stop(), ...(ups ?? []).map((u) => u.stop())]);
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const targets = () => `targets:
  - { name: a, provider: local, region: local, endpoint: "${ups[0]!.url}" }
  - { name: b, provider: local, region: local, endpoint: "${ups[1]!.url}" }
`;

  it('run serves through the front door, status reads it, SIGTERM stops it cleanly', async () => {
    const spec = await write(
      'run.yaml',
      `${service}${targets()}failover:\n  check: { interval: 300ms, timeout: 2s }\n  frontDoor: { port: 0 }\n`,
    );
    const events = join(dir, 'events.jsonl');
    const child = spawn(
      process.execPath,
      [bin, 'failover', 'run', '-f', spec, '--events', events],
      {
        env: { ...process.env, NO_COLOR: '1', MCML_ADMIN_TOKEN: 'cli-secret' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no front door URL in: ${out}`)), 20_000);
        child.stdout.on('data', () => {
          const m = /front door\s+(http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const res = await fetch(`${url}/v2/models/iris/infer`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-mcml-target')).toBe('a');
      const status = await mcml(['failover', 'status', '-f', spec, '--url', url]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/active: a/);
      expect(status.stdout).toMatch(/^a \*\s+1\s+healthy/m);
      const drill = await mcml(
        ['failover', 'drill', 'a', '-f', spec, '--url', url, '--hold', '200ms'],
        {
          MCML_ADMIN_TOKEN: 'cli-secret',
        },
      );
      expect(drill.stdout).toMatch(/traffic moved to b/);
      expect(drill.stdout).toMatch(/failed requests during the drill: 0/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('failover stopped');
    expect(out).not.toContain('cli-secret');
    const log = (await readFile(events, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(log.map((e) => e.type)).toEqual(
      expect.arrayContaining(['start', 'listening', 'disabled', 'active', 'stop']),
    );
  });

  it('run --prefer routes to that target before tier 1, and to the tiers when it is down', async () => {
    const spec = await write(
      'prefer.yaml',
      `${service}${targets()}failover:\n  check: { interval: 200ms, timeout: 2s, failureThreshold: 1, successThreshold: 1 }\n  stablePeriod: 0s\n  frontDoor: { port: 0 }\n`,
    );
    const child = spawn(process.execPath, [bin, 'failover', 'run', '-f', spec, '--prefer', 'b'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const infer = async (url: string) => {
      const res = await fetch(`${url}/v2/models/iris/infer`, { method: 'POST', body: '{}' });
      await res.arrayBuffer();
      return res.headers.get('x-mcml-target');
    };
    const eventually = async (url: string, want: string) => {
      const deadline = Date.now() + 20_000;
      let got: string | null = null;
      while (Date.now() < deadline) {
        got = await infer(url);
        if (got === want) return got;
        await new Promise((r) => setTimeout(r, 100));
      }
      return got;
    };
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no front door URL in: ${out}`)), 20_000);
        child.stdout.on('data', () => {
          const m = /front door\s+(http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      expect(out).toMatch(/prefers\s+b, then the tiers/);
      // b is tier 2, a tier 1: the preferred target wins while it is healthy.
      expect(await eventually(url, 'b')).toBe('b');
      await ups[1]!.kill();
      try {
        expect(await eventually(url, 'a')).toBe('a');
      } finally {
        await ups[1]!.restart();
      }
      // Back to the preferred target once it is healthy again.
      expect(await eventually(url, 'b')).toBe('b');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);

    const bad = await mcml(['failover', 'run', '-f', spec, '--prefer', 'zz']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--prefer zz: no such target/);
    expect(bad.stderr).toMatch(/a, b/);
  });

  it('status without a controller checks every target once', async () => {
    await ups[1]!.kill();
    try {
      const spec = await write(
        'status.yaml',
        `${service}${targets()}failover:\n  frontDoor: { port: 1 }\n`,
      );
      const r = await mcml(['failover', 'status', '-f', spec, '--json']);
      expect(r.code).toBe(0);
      const status = JSON.parse(r.stdout) as {
        active: string;
        targets: { name: string; state: string; lastError?: string }[];
      };
      expect(status.active).toBe('a');
      expect(status.targets[1]).toMatchObject({
        name: 'b',
        state: 'unhealthy',
        lastError: 'connection refused',
      });
    } finally {
      await ups[1]!.restart();
    }
  });

  it('rejects bad input with exit 2 and a message to act on', async () => {
    const noEndpoint = await write(
      'no-endpoint.yaml',
      `${service}targets:\n  - { name: a, provider: aws, region: us-east-1 }\n`,
    );
    const r1 = await mcml(['failover', 'status', '-f', noEndpoint]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/targets\[0\]\.endpoint/);

    const badProvider = await write(
      'bad-provider.yaml',
      `${service}${targets()}failover:\n  mode: dns\n  dns: { provider: godaddy, zone: example.test, record: ml.example.test }\n`,
    );
    const r2 = await mcml(['failover', 'run', '-f', badProvider]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/godaddy|provider/);

    const unknownTarget = await mcml([
      'failover',
      'drill',
      'zz',
      '-f',
      noEndpoint.replace('no-endpoint', 'status'),
    ]);
    expect(unknownTarget.code).toBe(2);
    expect(unknownTarget.stderr).toMatch(/no target named "zz"/);
  });

  it('run fails fast with exit 2 when BIND rejects the TSIG key or the zone does not exist', async () => {
    const dnsSpec = (zone: string, key: string) => `${service}${targets()}failover:
  mode: dns
  check: { interval: 300ms }
  dns: { provider: rfc2136, zone: ${zone}, record: ml.${zone}, server: "${bind.server}", tsigKeyName: ${key} }
`;
    const secret = Buffer.alloc(32, 3).toString('base64');
    const badKey = await write('bad-key.yaml', dnsSpec(bind.zone, 'wrong-key'));
    const r1 = await mcml(['failover', 'run', '-f', badKey], { MCML_TSIG_SECRET: secret });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/rejected TSIG key "wrong-key" \(BADKEY/);
    expect(r1.stderr).not.toContain(secret);

    const noZone = await write('no-zone.yaml', dnsSpec('absent.test', bind.keyName));
    const r2 = await mcml(['failover', 'run', '-f', noZone], { MCML_TSIG_SECRET: bind.secret });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/not authoritative for zone absent\.test/);

    const noSecret = await mcml(['failover', 'run', '-f', badKey], { MCML_TSIG_SECRET: '' });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/MCML_TSIG_SECRET/);
  });
});
