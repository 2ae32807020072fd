/** Emulators and store factories shared by the storage and sync tests. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { startMoto, type Moto } from '../helpers/moto.js';
import { startAzurite, AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from '../helpers/azurite.js';
import { startGcsDouble, type GcsDouble } from '../doubles/gcs.js';
import type { OpenStoreOptions } from '../../src/adapters/storage.js';

export interface Emulators {
  moto: Moto;
  azurite: Azurite;
  gcs: GcsDouble;
  /** openStore options that point every cloud at its emulator. */
  storeOptions: OpenStoreOptions;
  /** Environment for a spawned `mcml` pointing at the emulators. */
  env: Record<string, string>;
  s3Bucket(name?: string): Promise<string>;
  azContainer(name?: string): Promise<string>;
  gcsBucket(name?: string, location?: string): string;
  stop(): Promise<void>;
}

export const unique = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

export async function startEmulators(): Promise<Emulators> {
  const [moto, azurite, gcs] = await Promise.all([startMoto(), startAzurite(), startGcsDouble()]);
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const blob = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const storeOptions: OpenStoreOptions = {
    env: {},
    s3: {
      endpoint: moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' },
    azure: { endpoint: azurite.blobEndpoint, accountKey: AZURITE_KEY },
  };
  return {
    moto,
    azurite,
    gcs,
    storeOptions,
    env: {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      MCML_S3_ENDPOINT: moto.endpoint,
      MCML_GCS_ENDPOINT: gcs.endpoint,
      GOOGLE_CLOUD_PROJECT: 'test',
      MCML_AZURE_BLOB_ENDPOINT: azurite.blobEndpoint,
      AZURE_STORAGE_KEY: AZURITE_KEY,
    },
    async s3Bucket(name = unique('b')) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async azContainer(name = unique('c')) {
      await blob.getContainerClient(name).create();
      return name;
    },
    gcsBucket(name = unique('g'), location?: string) {
      gcs.createBucket(name, location);
      return name;
    },
    async stop() {
      s3.destroy();
      await Promise.allSettled([moto.stop(), azurite.stop(), gcs.stop()]);
    },
  };
}

export { AZURITE_ACCOUNT };

/** An RSA service-account key for GCS signed URLs against the double. */
export function testServiceAccount(): {
  client_email: string;
  private_key: string;
  publicKeyPem: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    client_email: 'mcml-test@test.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
