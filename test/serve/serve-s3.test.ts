/**
 * `mcml serve` loading its model from s3:// through the storage layer, against moto_server:
 * download, sha256 check, and the cache on the second start.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto, type Moto } from '../helpers/moto.js';
import { inferOnes, matMulModel, weightBytes } from '../helpers/onnx-models.js';
import { IRIS, serveFails, spawnServe } from './spawn.js';

describe('mcml serve with a model on S3 (moto)', () => {
  let moto: Moto;
  let cacheDir: string;
  let sum: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    cacheDir = await mkdtemp(join(tmpdir(), 'mcml-serve-cache-'));
    const body = await readFile(IRIS);
    sum = createHash('sha256').update(body).digest('hex');
    const s3 = new S3Client({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
    await s3.send(new PutObjectCommand({ Bucket: 'models', Key: 'prod/iris.onnx', Body: body }));
    s3.destroy();
    env = { ...moto.env, MCML_S3_ENDPOINT: moto.endpoint };
  });
  afterAll(async () => {
    await moto?.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads and verifies the model, serves it, and reuses the cache on restart', async () => {
    const args = [
      '--model',
      `iris=s3://models/prod/iris.onnx#sha256=${sum}`,
      '--cache-dir',
      cacheDir,
    ];
    const first = await spawnServe(args, env);
    try {
      expect(await first.waitForLog('model ready')).toMatchObject({ cached: false, sha256: sum });
      expect(await first.waitForLog('downloaded model')).toMatchObject({
        model: 'iris',
        source: 's3://models/prod/iris.onnx',
        bytes: (await readFile(IRIS)).length,
      });
      const res = await fetch(`${first.url}/v1/models/iris:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: [[6.7, 3.0, 5.2, 2.3]] }),
      });
      expect(
        ((await res.json()) as { predictions: { label: number }[] }).predictions[0]!.label,
      ).toBe(2);
    } finally {
      await first.stop();
    }
    const entries = await readdir(cacheDir);
    expect(entries).toHaveLength(1);
    expect(await readdir(join(cacheDir, entries[0]!))).toEqual(['iris.onnx']);

    const second = await spawnServe(args, env);
    try {
      expect(await second.waitForLog('model ready')).toMatchObject({ cached: true, sha256: sum });
    } finally {
      await second.stop();
    }
  });

  it('refuses a model whose sha256 differs from the pinned one (exit 2)', async () => {
    const wrong = '0'.repeat(64);
    const dir = await mkdtemp(join(tmpdir(), 'mcml-serve-cache-'));
    try {
      const r = await serveFails(
        ['--model', `iris=s3://models/prod/iris.onnx#sha256=${wrong}`, '--cache-dir', dir],
        env,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/sha256 mismatch for s3:\/\/models\/prod\/iris\.onnx/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing object (exit 2)', async () => {
    const r = await serveFails(
      ['--model', 's3://models/prod/missing.onnx', '--cache-dir', cacheDir],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/s3:\/\/models\/prod\/missing\.onnx does not exist/);
  });

  it('fetches the external data files of a model saved with them, and new weights under the same .onnx', async () => {
    const s3 = new S3Client({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const put = (Key: string, Body: Buffer) =>
      s3.send(new PutObjectCommand({ Bucket: 'models', Key, Body }));
    const side = 16;
    await put('big/model.onnx', matMulModel({ side, external: { location: 'model.onnx.data' } }));
    await put('big/model.onnx.data', weightBytes(side, 0.5));
    const dir = await mkdtemp(join(tmpdir(), 'mcml-serve-cache-'));
    const args = ['--model', 'big=s3://models/big/model.onnx', '--cache-dir', dir];
    const serveEnv = { ...env, MCML_HASH_INDEX_DIR: join(dir, 'hashes') };
    const infer = async (): Promise<number> => {
      const server = await spawnServe(args, serveEnv);
      try {
        return (await inferOnes(server.url, 'big', side))[0]!;
      } finally {
        await server.stop();
      }
    };
    try {
      expect(await infer()).toBe(8); // 16 × 1 × 0.5
      const [entry] = (await readdir(dir)).filter((e) => e !== 'hashes');
      expect((await readdir(join(dir, entry!))).sort()).toEqual(
        ['.external-data.json', 'model.onnx', 'model.onnx.data'].sort(),
      );
      // New weights under the same .onnx file: fetched again, never served stale.
      await put('big/model.onnx.data', weightBytes(side, 2));
      expect(await infer()).toBe(32);

      // Weights missing from the store: a clear message naming the object (exit 2).
      await s3.send(new DeleteObjectCommand({ Bucket: 'models', Key: 'big/model.onnx.data' }));
      const fresh = await mkdtemp(join(tmpdir(), 'mcml-serve-cache-'));
      try {
        const r = await serveFails(
          ['--model', 'big=s3://models/big/model.onnx', '--cache-dir', fresh],
          env,
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(
          /s3:\/\/models\/big\/model\.onnx keeps weights in s3:\/\/models\/big\/model\.onnx\.data, which does not exist/,
        );
      } finally {
        await rm(fresh, { recursive: true, force: true });
      }
    } finally {
      s3.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
