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
import { inferOnes, matMulModel, weightBytes } from '../helpers/onnx-models.js';
import { alive, getState, localExample, startUp, waitForState, type UpProcess } from './helpers.js';

let moto: Moto;
let azurite: Azurite;
let up: UpProcess | undefined;

beforeAll(async () => {
  [moto, azurite] = await Promise.all([startMoto(), startAzurite()]);
  await s3().send(new CreateBucketCommand({ Bucket: 'mcml-aws' }));
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient('mcml-azure')
    .create();
}, 120_000);

afterAll(async () => {
  await up?.stop();
  await Promise.all([moto?.stop(), azurite?.stop()]);
});

/** A client of the moto S3 the buckets live in. */
function s3(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/** The keys under `prefix` in the S3 bucket, sorted. */
async function s3Keys(prefix: string): Promise<string[]> {
  const listed = await s3().send(new ListObjectsV2Command({ Bucket: 'mcml-aws', Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

/** `mcml up` on a spec whose buckets are on the emulators, once every target is healthy. */
async function upOnEmulators(spec: string) {
  const env = {
    ...moto.env,
    MCML_S3_ENDPOINT: moto.endpoint,
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    XDG_CACHE_HOME: `${spec}.cache`,
  };
  const running = await startUp(spec, [], 180_000, env);
  up = running;
  const state = await waitForState(running.url, (s) =>
    s.targets.every((t) => t.health === 'healthy'),
  );
  return { running, state };
}

describe('mcml up on emulated cloud buckets', () => {
  it('copies to S3 and Azure Blob and serves models loaded from them', async () => {
    const spec = await localExample((s) => {
      s.targets[0].bucket = 's3://mcml-aws/iris';
      s.targets[2].bucket = 'az://devstoreaccount1/mcml-azure/iris';
    });
    const { running, state } = await upOnEmulators(spec);
    expect(state.sync.filter((x) => x.state === 'done')).toHaveLength(6);
    expect(await s3Keys('iris/')).toEqual([
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
    const res = await fetch(`${running.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mcml-target')).toBe('local-aws');

    const pids = (await getState(running.url)).targets.flatMap((t) => t.replicas.pids);
    expect(await running.stop()).toBe(0);
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
    const { running } = await upOnEmulators(spec);
    expect(await s3Keys('ext/')).toEqual([
      'ext/models/iris/model.onnx',
      'ext/models/iris/weights/w.bin',
    ]);
    // Every replica (the S3 one, the Azure one, the local one) answers with the weights.
    for (let i = 0; i < 6; i++)
      expect(await inferOnes(running.url, 'iris', side)).toEqual([2, 2, 2, 2]);
    expect(await running.stop()).toBe(0);
    up = undefined;
  }, 240_000);
});
