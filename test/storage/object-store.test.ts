/** The ObjectStore contract on every adapter: local files, S3 (moto), GCS (double), Azure (Azurite). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import { runObjectStoreContract } from '../contracts/object-store.js';
import { startGcsDouble, type GcsDouble } from '../doubles/gcs.js';
import {
  startEmulators,
  testServiceAccount,
  unique,
  AZURITE_ACCOUNT,
  type Emulators,
} from './fixtures.js';

let emu: Emulators;
let signedGcs: GcsDouble;
const account = testServiceAccount();
let dir: string;
let s3Bucket: string;
let azContainer: string;
const MIB = 1024 * 1024;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-store-'));
  emu = await startEmulators();
  signedGcs = await startGcsDouble({ publicKeyPem: account.publicKeyPem });
  signedGcs.createBucket('contract');
  s3Bucket = await emu.s3Bucket();
  azContainer = await emu.azContainer();
}, 120_000);

afterAll(async () => {
  await emu?.stop();
  await signedGcs?.stop();
  await rm(dir, { recursive: true, force: true });
});

runObjectStoreContract({
  name: 'local files',
  create: () => openStore(join(dir, unique('root'))),
  largeSize: 3 * MIB + 17,
  httpPresign: false,
});

runObjectStoreContract({
  name: 'S3 on moto',
  create: () =>
    openStore(`s3://${s3Bucket}/${unique('p')}/`, {
      ...emu.storeOptions,
      s3: { ...emu.storeOptions.s3, partSize: 5 * MIB },
    }),
  largeSize: 11 * MIB + 5,
});

runObjectStoreContract({
  name: 'GCS on the JSON API double',
  create: () =>
    openStore(`gs://contract/${unique('p')}`, {
      env: {},
      gcs: {
        apiEndpoint: signedGcs.endpoint,
        projectId: 'test',
        credentials: { client_email: account.client_email, private_key: account.private_key },
        simpleUploadLimit: 1 * MIB,
      },
    }),
  largeSize: 3 * MIB + 3,
});

runObjectStoreContract({
  name: 'Azure Blob on Azurite',
  create: () =>
    openStore(`az://${AZURITE_ACCOUNT}/${azContainer}/${unique('p')}`, {
      ...emu.storeOptions,
      azure: { ...emu.storeOptions.azure, blockSize: 1 * MIB },
    }),
  largeSize: 3 * MIB + 3,
});
