/**
 * `mcml deploy`'s metric gate against a real Prometheus (Debian's `prometheus`): a PromQL
 * expression that holds lets the waves go on; one that does not rolls its target back and
 * halts the later waves. The expressions are constant (`vector(…)`), so no scrape is needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServer, type RunningServer } from '../helpers/process.js';
import {
  deploy,
  outcome,
  report,
  specText,
  threeClusters,
  type Clusters,
} from './deploy-clusters.js';

let c: Clusters;
let prom: RunningServer;
let promUrl = '';
const tsdb = mkdtempSync(join(tmpdir(), 'mcml-deploy-prom-'));

beforeAll(async () => {
  c = await threeClusters();
  writeFileSync(join(tsdb, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
  const port = await freePort();
  prom = await startServer(
    'prometheus',
    [
      `--config.file=${join(tsdb, 'prometheus.yml')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(tsdb, 'data')}`,
      '--log.level=warn',
    ],
    port,
    {
      timeoutMs: 60_000,
      installHint: 'apt-get update && apt-get install -y prometheus (or run scripts/test-deps.sh)',
    },
  );
  promUrl = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await c?.stop();
  rmSync(tsdb, { recursive: true, force: true });
}, 60_000);

describe('mcml deploy with a metric gate on a real Prometheus', { timeout: 300_000 }, () => {
  it('passes a gate that holds on every target', async () => {
    const run = await deploy(c, [
      'deploy',
      '-f',
      'mcml.yaml',
      '--json',
      '--prometheus-url',
      promUrl,
      '--gate',
      'vector(0.001) < 0.01',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const gates = outcome(run, 'gcp-usc1').gates as {
      gate: string;
      ok: boolean;
      message: string;
    }[];
    expect(gates.find((g) => g.gate === 'metric')).toEqual({
      gate: 'metric',
      ok: true,
      message: 'vector(0.001) < 0.01 → 0.001',
    });
  });

  it('rolls back the first target whose gate fails and halts the later waves', async () => {
    writeFileSync(join(c.dir, 'mcml.yaml'), specText({ model: 'iris-2.onnx' }));
    const run = await deploy(c, [
      'deploy',
      '-f',
      'mcml.yaml',
      '--json',
      '--prometheus-url',
      promUrl,
      '--gate',
      'vector(0.05) < 0.01',
    ]);
    expect(run.code).toBe(1);
    const azure = outcome(run, 'azure-eus');
    expect(azure.phase).toBe('rolled-back');
    expect(azure.error.message).toBe(
      'metric gate: vector(0.05) < 0.01 → no samples (the condition does not hold)',
    );
    expect(outcome(run, 'gcp-usc1').phase).toBe('halted');
    expect(outcome(run, 'aws-use1').phase).toBe('halted');
    expect(report(run)).toMatchObject({ ok: false, halted: true });
  });
});
