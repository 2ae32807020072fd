/**
 * The front door in front of three real `mcml serve` processes (onnxruntime, the iris model):
 * SIGKILL the primary under inference load; no client request fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFailover, type FailoverLogEntry } from '../../src/engines/failover/index.js';
import { freePort, waitForPort } from '../helpers/process.js';
import { failoverSpec } from './spec.js';

const root = join(import.meta.dirname, '../..');
const body = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

interface Serve {
  name: string;
  port: number;
  child: ChildProcess;
}

async function startServe(name: string): Promise<Serve> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/mcml'),
      'serve',
      '--model',
      `iris=${join(root, 'models/iris.onnx')}`,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ],
    { stdio: 'ignore', cwd: root },
  );
  await waitForPort(port, { child, timeoutMs: 60_000 });
  // Listening comes before the model is loaded: wait for readiness.
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, port, child };
}

describe('front door over mcml serve', () => {
  let serves: Serve[] = [];
  const agent = new Agent({ connections: 8 });
  beforeAll(async () => {
    serves = await Promise.all(['aws', 'gcp', 'azure'].map((n) => startServe(n)));
  }, 120_000);
  afterAll(async () => {
    for (const s of serves)
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await agent.close();
  });

  it('a flood of malformed percent-escapes gets 4xx from mcml serve and ejects no target (#14.1)', async () => {
    const spec = failoverSpec(
      serves.map((s) => ({ name: s.name, url: `http://127.0.0.1:${s.port}` })),
      // Checks far apart and ejection after 2 errors: only the flood could move anything.
      `check: { interval: 1h, timeout: 5s }
outlier: { consecutiveErrors: 2, maxEjectionPercent: 100 }
frontDoor: { port: 0 }`,
    );
    const fo = await startFailover({ spec });
    try {
      const statuses = new Set<number>();
      for (const path of ['/v2/models/%ZZ/infer', '/v2/models/%ZZ', '/v2/%E0%A4%A', '/%']) {
        for (let i = 0; i < 15; i++) {
          const res = await request(`${fo.url}${path}`, {
            dispatcher: agent,
            method: i % 2 ? 'POST' : 'GET',
            ...(i % 2 ? { body, headers: { 'content-type': 'application/json' } } : {}),
          });
          statuses.add(res.statusCode);
          await res.body.dump();
        }
      }
      expect([...statuses].every((s) => s >= 400 && s < 500)).toBe(true);
      expect(fo.status().targets.map((t) => `${t.name}:${t.state}`)).toEqual([
        'aws:healthy',
        'gcp:healthy',
        'azure:healthy',
      ]);
      const normal = await request(`${fo.url}/v2/models/iris/infer`, {
        dispatcher: agent,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(normal.statusCode).toBe(200);
      expect(normal.headers['x-mcml-target']).toBe('aws');
      await normal.body.dump();
    } finally {
      await fo.close();
    }
  });

  it('loses no inference request when the primary mcml serve is SIGKILLed', async () => {
    const spec = failoverSpec(
      serves.map((s) => ({ name: s.name, url: `http://127.0.0.1:${s.port}` })),
      `check: { interval: 300ms, timeout: 2s, failureThreshold: 2 }
frontDoor: { port: 0 }`,
    );
    const fo = await startFailover({ spec });
    try {
      expect(fo.status().targets.every((t) => t.state === 'healthy')).toBe(true);
      const served: string[] = [];
      const failures: string[] = [];
      let running = true;
      const worker = async () => {
        while (running) {
          try {
            const res = await request(`${fo.url}/v2/models/iris/infer`, {
              dispatcher: agent,
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json' },
            });
            const text = await res.body.text();
            if (res.statusCode !== 200 || !text.includes('outputs'))
              failures.push(`${res.statusCode} ${text}`);
            else served.push(String(res.headers['x-mcml-target']));
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const load = Promise.all([worker(), worker(), worker()]);
      while (served.filter((t) => t === 'aws').length < 30)
        await new Promise((r) => setTimeout(r, 20));
      const moved = new Promise<FailoverLogEntry>((resolve) =>
        fo.events.on('event', (e) => {
          if (e.type === 'active' && e.to === 'gcp') resolve(e);
        }),
      );
      serves[0]!.child.kill('SIGKILL');
      await moved;
      const at = served.length;
      while (served.length < at + 60) await new Promise((r) => setTimeout(r, 20));
      running = false;
      await load;
      expect(failures).toEqual([]);
      expect(served.slice(-30).every((t) => t === 'gcp')).toBe(true);
    } finally {
      await fo.close();
    }
  });
});
