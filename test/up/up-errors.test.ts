/** `mcml up` on bad input: a clear message, exit 2 (input) or 1 (world), nothing left running. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localExample, runMcml } from './helpers.js';

/** Processes whose command line runs `mcml serve` for this spec's buckets. */
function servesFor(specDir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(' serve ') && l.includes(specDir));
}

let busy: Server;
let busyPort: number;

beforeAll(async () => {
  busy = createServer((_req, res) => res.end('taken'));
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => busy.close(r));
});

describe('mcml up bad input', () => {
  it('refuses a port in use, before starting anything', async () => {
    const spec = await localExample();
    const r = await runMcml(['up', spec, '--port', String(busyPort)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`port ${busyPort} on 127\\.0\\.0\\.1 is already in use`));
    expect(r.stderr).toMatch(/--port/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(r.stdout + r.stderr).not.toMatch(/starting on port/);
    expect(servesFor(spec.replace(/\/mcml\.yaml$/, ''))).toEqual([]);
  });

  it('names a missing model and exits 2', async () => {
    const spec = await localExample((s) => {
      s.service.model.uri = '/nonexistent/models/iris.onnx';
    });
    const r = await runMcml(['up', spec, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the model \/nonexistent\/models\/iris\.onnx does not exist/);
    expect(r.stdout + r.stderr).not.toMatch(/starting on port/);
  });

  it('stops at the first wave whose replicas cannot serve, naming the target (exit 1)', async () => {
    // A model file that is not ONNX: the buckets fill, but no replica can load it.
    const dir = await mkdtemp(join(tmpdir(), 'mcml-bad-model-'));
    const model = join(dir, 'iris.onnx');
    await writeFile(model, 'not an onnx model');
    const spec = await localExample((s) => {
      s.service.model.uri = model;
    });
    const r = await runMcml(['up', spec, '--port', '0', '--ready-timeout', '20s']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the rollout of the local targets failed/);
    // The standby's wave goes first; the others are never started.
    expect(r.stderr).toMatch(/local-azure \(wave 1\): failed/);
    expect(r.stderr).toMatch(/local-gcp \(wave 2\): halted/);
    expect(r.stderr).toMatch(/local-aws \(wave 3\): halted/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(servesFor(spec.replace(/\/mcml\.yaml$/, ''))).toEqual([]);
  }, 120_000);

  it('refuses a cloud target with no endpoint (exit 2) and one that does not answer (exit 1)', async () => {
    const noEndpoint = await localExample((s) => {
      s.targets[2] = { name: 'azure-east', provider: 'azure', region: 'eastus', tier: 3 };
    });
    const a = await runMcml(['up', noEndpoint, '--port', '0']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/target "azure-east" runs on azure, so mcml up cannot start it here/);
    expect(a.stderr).toMatch(/hint: set targets\[\]\.endpoint/);

    const unreachable = await localExample((s) => {
      s.targets[2] = {
        name: 'azure-east',
        provider: 'azure',
        region: 'eastus',
        tier: 3,
        endpoint: 'http://127.0.0.1:1',
      };
    });
    const b = await runMcml(['up', unreachable, '--port', '0']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(
      /target "azure-east" endpoint http:\/\/127\.0\.0\.1:1 does not answer/,
    );
    expect(servesFor(unreachable.replace(/\/mcml\.yaml$/, ''))).toEqual([]);
  });

  it('rejects a bad port flag and a missing spec file', async () => {
    const spec = await localExample();
    const r = await runMcml(['up', spec, '--port', 'eighty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port must be a port number/);
    const missing = await runMcml(['up', '/nonexistent/mcml.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/spec file \/nonexistent\/mcml\.yaml does not exist/);
  });
});
