/**
 * `mcml serve` loading its model from gs:// (issue 14 #22: never run before): the model is
 * uploaded with the official @google-cloud/storage client to the GCS double, downloaded by
 * the CLI through the storage layer, checked against its sha256, and served.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsDouble, type GcsDouble } from '../doubles/gcs.js';
import { post } from './client.js';
import { IRIS, serveFails, spawnServe } from './spawn.js';

describe('mcml serve with a model on GCS (double, official client)', () => {
  let gcs: GcsDouble;
  let cacheDir: string;
  let sum: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    gcs = await startGcsDouble();
    cacheDir = await mkdtemp(join(tmpdir(), 'mcml-serve-gcs-'));
    const body = await readFile(IRIS);
    sum = createHash('sha256').update(body).digest('hex');
    gcs.createBucket('models-eu', 'EUROPE-WEST1');
    const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'test' });
    await storage.bucket('models-eu').file('prod/iris.onnx').save(body, { resumable: false });
    env = { MCML_GCS_ENDPOINT: gcs.endpoint, GOOGLE_CLOUD_PROJECT: 'test' };
  });
  afterAll(async () => {
    await gcs?.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads, verifies and serves a gs:// model', async () => {
    const downloads = () => gcs.requests.get('media') ?? 0;
    const before = downloads();
    const server = await spawnServe(
      ['--model', `iris=gs://models-eu/prod/iris.onnx#sha256=${sum}`, '--cache-dir', cacheDir],
      env,
    );
    try {
      expect(await server.waitForLog('model ready')).toMatchObject({
        model: 'iris',
        source: 'gs://models-eu/prod/iris.onnx',
        sha256: sum,
        cached: false,
      });
      const res = await post(`${server.url}/v1/models/iris:predict`, {
        instances: [[6.7, 3.0, 5.2, 2.3]],
      });
      expect(res.status).toBe(200);
      expect(res.body.predictions[0].label).toBe(2);
    } finally {
      await server.stop();
    }
    // The bytes came from the double (not a cache): at least one media download.
    expect(downloads()).toBeGreaterThan(before);
  });

  it('reports a missing gs:// object with exit 2', async () => {
    const r = await serveFails(
      ['--model', 'gs://models-eu/prod/missing.onnx', '--cache-dir', cacheDir],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /model "missing": gs:\/\/models-eu\/prod\/missing\.onnx does not exist/,
    );
  });
});
