/**
 * `mcml up` with cloud buckets on emulators: local-aws keeps its model and data in S3 on moto,
 * local-azure in Azure Blob on Azurite, so the real SDK paths run for the copy and for each
 * replica's model load.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { matMulModel, weightBytes } from '../helpers/onnx-models.js';
import { alive, getState, localExample, startUp, waitForState, type UpProcess } from './helpers.js';

let moto: Moto;
let azurite: Azurite;
let up: UpProcess | undefined;

beforeAll(async () => {
  [moto, azurite] = await Promise.all([startMoto(), startAzurite()]);
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'mcml-aws' }));
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient('mcml-azure')
    .create();
}, 120_000);

afterAll(async () => {
  await up?.stop();
  await Promise.all([moto?.stop(), azurite?.stop()]);
});

describe('mcml up on emulated cloud buckets', () => {
  it('copies to S3 and Azure Blob and serves models loaded from them', async () => {
    const spec = await localExample((s) => {
      s.targets[0].bucket = 's3://mcml-aws/iris';
      s.targets[2].bucket = 'az://devstoreaccount1/mcml-azure/iris';
    });
    const env = {
      ...moto.env,
      MCML_S3_ENDPOINT: moto.endpoint,
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      XDG_CACHE_HOME: `${spec}.cache`,
    };
    up = await startUp(spec, [], 180_000, env);
    const state = await waitForState(up.url, (s) => s.targets.every((t) => t.health === 'healthy'));
    expect(state.sync.filter((x) => x.state === 'done')).toHaveLength(6);

    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'mcml-aws', Prefix: 'iris/' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      'iris/data/iris-data/iris.csv',
      'iris/models/iris/iris.onnx',
    ]);
    const blobs: string[] = [];
    const container = BlobServiceClient.fromConnectionString(
      azurite.connectionString,
    ).getContainerClient('mcml-azure');
    for await (const b of container.listBlobsFlat({ prefix: 'iris/' })) blobs.push(b.name);
    expect(blobs.sort()).toEqual(['iris/data/iris-data/iris.csv', 'iris/models/iris/iris.onnx']);

    // Each replica was started on its own target's bucket.
    const argsOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const aws = state.targets.find((t) => t.name === 'local-aws')!;
    const azure = state.targets.find((t) => t.name === 'local-azure')!;
    expect(argsOf(aws.replicas.pids[0]!)).toContain(
      'iris=s3://mcml-aws/iris/models/iris/iris.onnx',
    );
    expect(argsOf(azure.replicas.pids[0]!).join(' ')).toMatch(
      /iris=az:\/\/devstoreaccount1\/mcml-azure\/iris\/models\/iris\/iris\.onnx/,
    );

    // And they answer real inference through the front door.
    const res = await fetch(`${up.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mcml-target')).toBe('local-aws');

    const pids = (await getState(up.url)).targets.flatMap((t) => t.replicas.pids);
    expect(await up.stop()).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 240_000);

  it('copies a model saved with external data with its weights, and serves it from each bucket', async () => {
    const side = 4;
    const folder = await mkdtemp(join(tmpdir(), 'mcml-up-ext-'));
    await mkdir(join(folder, 'weights'));
    await writeFile(
      join(folder, 'model.onnx'),
      matMulModel({ side, external: { location: 'weights/w.bin' } }),
    );
    await writeFile(join(folder, 'weights', 'w.bin'), weightBytes(side, 0.5));
    const spec = await localExample((s) => {
      s.service.model.uri = join(folder, 'model.onnx');
      s.targets[0].bucket = 's3://mcml-aws/ext';
      s.targets[2].bucket = 'az://devstoreaccount1/mcml-azure/ext';
      s.data = [];
    });
    const env = {
      ...moto.env,
      MCML_S3_ENDPOINT: moto.endpoint,
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      XDG_CACHE_HOME: `${spec}.cache`,
    };
    up = await startUp(spec, [], 180_000, env);
    await waitForState(up.url, (s) => s.targets.every((t) => t.health === 'healthy'));
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'mcml-aws', Prefix: 'ext/' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
      'ext/models/iris/model.onnx',
      'ext/models/iris/weights/w.bin',
    ]);
    // Every replica (the S3 one, the Azure one, the local one) answers with the weights.
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${up.url}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, side], data: [1, 1, 1, 1] }],
        }),
      });
      expect(res.status).toBe(200);
      const out = (await res.json()) as { outputs: { data: number[] }[] };
      expect(out.outputs[0]!.data).toEqual([2, 2, 2, 2]);
    }
    expect(await up.stop()).toBe(0);
    up = undefined;
  }, 240_000);
});
