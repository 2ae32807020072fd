/**
 * The one way to get an ObjectStore: `openStore("s3://bucket/prefix")`. Parses the URI, builds
 * the SDK client from options, environment and each SDK's default credential chain, and
 * returns the adapter. SDKs load lazily, so opening a local store loads no cloud SDK.
 *
 * Endpoint overrides (emulators): S3 `MCML_S3_ENDPOINT` or `AWS_ENDPOINT_URL_S3` /
 * `AWS_ENDPOINT_URL`; GCS `MCML_GCS_ENDPOINT` or `STORAGE_EMULATOR_HOST`; Azure
 * `AZURE_STORAGE_CONNECTION_STRING`, or `MCML_AZURE_BLOB_ENDPOINT` with `AZURE_STORAGE_KEY`
 * (otherwise DefaultAzureCredential).
 */
import { isAbsolute, resolve } from 'node:path';
import { McmlError } from '../core/errors.js';
import {
  parseStorageUri,
  type AzureLocation,
  type BucketLocation,
  type FileLocation,
  type StorageLocation,
} from '../core/storage-uri.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { StorageOptions } from '@google-cloud/storage';
import type * as AzureBlob from './azure/blob-sdk.js';
import type { UploadJournal } from './upload-journal.js';
import { redactSecrets } from './object-store-common.js';

export interface OpenStoreOptions {
  /** Directory relative paths resolve against (default: the working directory). */
  baseDir?: string;
  /** Environment to read endpoints and keys from (default: process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Where interrupted large uploads are remembered so a rerun resumes them (default:
   * MCML_UPLOAD_STATE_DIR, else ~/.cache/mcml/uploads); `false` turns resuming off.
   */
  uploadStateDir?: string | false;
  /**
   * Where the hashes of local files are remembered between runs, by file stamp (default:
   * MCML_HASH_INDEX_DIR, else ~/.cache/mcml/hashes); `false`: hash every run.
   */
  hashIndexDir?: string | false;
  s3?: {
    endpoint?: string;
    region?: string;
    forcePathStyle?: boolean;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    partSize?: number;
    /** Parts in flight per object (default 4). */
    queueSize?: number;
    maxAttempts?: number;
  };
  gcs?: {
    apiEndpoint?: string;
    projectId?: string;
    /** Service-account credentials (client_email + private_key), e.g. for signed URLs. */
    credentials?: { client_email: string; private_key: string };
    /** Objects up to this size use one simple upload (default 8 MiB). */
    simpleUploadLimit?: number;
    /** Resumable upload chunk size (default 8 MiB, a multiple of 256 KiB). */
    chunkSize?: number;
    /**
     * An OAuth2 access token to send instead of the default credential chain (also to a
     * custom endpoint); default GOOGLE_OAUTH_ACCESS_TOKEN, as Google's Terraform provider reads.
     */
    accessToken?: string;
    /** Retries of throttled and failed requests (default 3). */
    maxRetries?: number;
  };
  azure?: {
    connectionString?: string;
    /** Blob service endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1 (Azurite). */
    endpoint?: string;
    accountKey?: string;
    blockSize?: number;
    /** Tries per request, the first included (default: the SDK's 4). */
    maxTries?: number;
  };
}

/** Opens the object store a URI points at. Throws INVALID_ARGUMENT for malformed URIs. */
export async function openStore(uri: string, options: OpenStoreOptions = {}): Promise<ObjectStore> {
  const loc = parseStorageUri(
    uri,
    options.baseDir !== undefined ? { baseDir: options.baseDir } : {},
  );
  return openLocation(loc, options);
}

/** Opens an already parsed location. */
export async function openLocation(
  loc: StorageLocation,
  options: OpenStoreOptions = {},
): Promise<ObjectStore> {
  const env = options.env ?? process.env;
  switch (loc.scheme) {
    case 'file':
      return openLocal(loc, options, env);
    case 's3':
      return openS3(loc, options, env);
    case 'gs':
      return openGcs(loc, options, env);
    case 'az':
      return openAzure(loc, options, env);
  }
}

type Env = Record<string, string | undefined>;

/** A directory on this machine; relative paths resolve against baseDir. */
async function openLocal(
  loc: FileLocation,
  options: OpenStoreOptions,
  env: Env,
): Promise<ObjectStore> {
  const { LocalObjectStore } = await import('./local/local-object-store.js');
  const base = options.baseDir ?? process.cwd();
  const root = isAbsolute(loc.path) ? resolve(loc.path) : resolve(base, loc.path);
  if (options.hashIndexDir === false) return new LocalObjectStore(root);
  const { defaultHashIndexDir } = await import('./local/hash-index.js');
  return new LocalObjectStore(root, {
    hashIndexDir: options.hashIndexDir ?? defaultHashIndexDir(env),
  });
}

/** An S3 bucket (or an S3-compatible server at a custom endpoint). */
async function openS3(
  loc: BucketLocation,
  options: OpenStoreOptions,
  env: Env,
): Promise<ObjectStore> {
  const [{ S3Client }, { S3ObjectStore, unsignedPayloadOverTls }] = await Promise.all([
    import('./aws/s3-sdk.js'),
    import('./aws/s3-object-store.js'),
  ]);
  const o = options.s3 ?? {};
  const endpoint =
    o.endpoint ?? env.MCML_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = o.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const client = new S3Client({
    region,
    followRegionRedirects: true,
    // mcml verifies content end to end with its own sha256; S3-compatible servers
    // (moto, MinIO…) disagree on checksum headers for ranges and multipart objects.
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Writes carry Content-MD5 (single PUT) or are checked against the multipart ETag;
    // extra CRC32 trailers cost CPU on both ends and some S3-compatible servers reject them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: o.maxAttempts ?? 4,
    ...(endpoint ? { endpoint, forcePathStyle: o.forcePathStyle ?? true } : {}),
    ...(o.forcePathStyle !== undefined ? { forcePathStyle: o.forcePathStyle } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
  unsignedPayloadOverTls(client);
  const journal = await journalFor(options, env);
  return new S3ObjectStore({
    client,
    bucket: loc.bucket,
    prefix: loc.prefix,
    ...(o.partSize ? { partSize: o.partSize } : {}),
    ...(o.queueSize ? { queueSize: o.queueSize } : {}),
    ...(journal ? { journal } : {}),
  });
}

/** A Google Cloud Storage bucket (or fake-gcs-server at a custom endpoint). */
async function openGcs(
  loc: BucketLocation,
  options: OpenStoreOptions,
  env: Env,
): Promise<ObjectStore> {
  const [{ Storage, IdempotencyStrategy }, { GcsObjectStore }] = await Promise.all([
    import('@google-cloud/storage'),
    import('./gcp/gcs-object-store.js'),
  ]);
  const o = options.gcs ?? {};
  const apiEndpoint = o.apiEndpoint ?? env.MCML_GCS_ENDPOINT;
  const projectId = o.projectId ?? env.GOOGLE_CLOUD_PROJECT;
  const accessToken = o.accessToken ?? env.GOOGLE_OAUTH_ACCESS_TOKEN;
  const storage = new Storage({
    ...(apiEndpoint ? { apiEndpoint } : {}),
    ...(projectId ? { projectId } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(accessToken ? { authClient: bearer(accessToken), useAuthWithCustomEndpoint: true } : {}),
    // Every write mcml makes is safe to repeat (same bytes, same metadata; a resumable
    // chunk is placed by its offset), so retry them all, not only those with preconditions.
    retryOptions:
      o.maxRetries === 0
        ? { autoRetry: false }
        : {
            autoRetry: true,
            maxRetries: o.maxRetries ?? 3,
            idempotencyStrategy: IdempotencyStrategy.RetryAlways,
          },
  });
  const journal = await journalFor(options, env);
  return new GcsObjectStore({
    storage,
    bucket: loc.bucket,
    prefix: loc.prefix,
    ...(o.simpleUploadLimit ? { simpleUploadLimit: o.simpleUploadLimit } : {}),
    ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
    ...(journal ? { journal } : {}),
  });
}

/** An Azure Blob container. */
async function openAzure(
  loc: AzureLocation,
  options: OpenStoreOptions,
  env: Env,
): Promise<ObjectStore> {
  const [blob, { AzureBlobObjectStore }] = await Promise.all([
    import('./azure/blob-sdk.js'),
    import('./azure/azure-blob-object-store.js'),
  ]);
  const o = options.azure ?? {};
  const service = await azureService(blob, loc, o, env);
  return new AzureBlobObjectStore({
    service,
    account: loc.account,
    container: loc.container,
    prefix: loc.prefix,
    ...(o.blockSize ? { blockSize: o.blockSize } : {}),
  });
}

type AzureOptions = NonNullable<OpenStoreOptions['azure']>;

/**
 * The blob service client, by the first credential present: connection string, shared key,
 * SAS token, else DefaultAzureCredential. A configuration the SDK rejects is bad input.
 */
async function azureService(
  blob: typeof AzureBlob,
  loc: AzureLocation,
  o: AzureOptions,
  env: Env,
): Promise<AzureBlob.BlobServiceClient> {
  const connectionString = o.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING;
  const endpoint =
    o.endpoint ??
    env.MCML_AZURE_BLOB_ENDPOINT ??
    loc.serviceUrl ??
    `https://${loc.account}.blob.core.windows.net`;
  const key = o.accountKey ?? env.AZURE_STORAGE_KEY ?? env.MCML_AZURE_ACCOUNT_KEY;
  const pipeline = o.maxTries ? { retryOptions: { maxTries: o.maxTries } } : {};
  try {
    if (connectionString && !o.endpoint) {
      const service = blob.BlobServiceClient.fromConnectionString(connectionString, pipeline);
      const account = service.accountName;
      if (account && account !== loc.account) {
        throw new McmlError(
          'INVALID_ARGUMENT',
          `the Azure connection string is for account "${account}", the URI names "${loc.account}"`,
          { hint: 'unset AZURE_STORAGE_CONNECTION_STRING or use the matching account' },
        );
      }
      return service;
    }
    if (key) {
      return new blob.BlobServiceClient(
        endpoint,
        new blob.StorageSharedKeyCredential(loc.account, key),
        pipeline,
      );
    }
    if (env.AZURE_STORAGE_SAS_TOKEN) {
      const sas = env.AZURE_STORAGE_SAS_TOKEN.replace(/^\?/, '');
      return new blob.BlobServiceClient(`${endpoint}?${sas}`, undefined, pipeline);
    }
    const { DefaultAzureCredential } = await import('@azure/identity');
    return new blob.BlobServiceClient(endpoint, new DefaultAzureCredential(), pipeline);
  } catch (error) {
    if (error instanceof McmlError) throw error;
    throw new McmlError(
      'INVALID_ARGUMENT',
      `cannot configure Azure Blob access: ${redactSecrets((error as Error).message)}`,
      { hint: 'check AZURE_STORAGE_CONNECTION_STRING / MCML_AZURE_BLOB_ENDPOINT' },
    );
  }
}

/** An auth client that sends one fixed OAuth2 access token (the SDK's GoogleAuth wraps it). */
function bearer(token: string): NonNullable<StorageOptions['authClient']> {
  const client = {
    getRequestHeaders: () => Promise.resolve({ Authorization: `Bearer ${token}` }),
    getAccessToken: () => Promise.resolve({ token }),
  };
  return client as unknown as NonNullable<StorageOptions['authClient']>;
}

async function journalFor(
  options: OpenStoreOptions,
  env: Record<string, string | undefined>,
): Promise<UploadJournal | undefined> {
  if (options.uploadStateDir === false) return undefined;
  const { UploadJournal, defaultJournalDir } = await import('./upload-journal.js');
  return new UploadJournal(options.uploadStateDir ?? defaultJournalDir(env));
}
