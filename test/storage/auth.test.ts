/**
 * Credentials that are wrong, and every adapter's mapping of 401/403/409/412/429: moto with
 * authentication enforced (a real SigV4 check), Azurite with a wrong key and a tampered SAS,
 * the GCS double requiring a bearer token, and each status injected in front of each service
 * with the body that service sends, parsed by the official SDK.
 */
import { Readable } from 'node:stream';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { startMoto, type AwsKey, type Moto } from '../helpers/moto.js';
import { startAzurite, AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from '../helpers/azurite.js';
import { startGcsDouble, type GcsDouble } from '../doubles/gcs.js';
import { startCountingProxy, type CountingProxy } from '../sync/counting-proxy.js';
import { readAll } from '../contracts/object-store.js';
import { testServiceAccount, unique } from './fixtures.js';

let moto: Moto;
let azurite: Azurite;
let gcs: GcsDouble;
let s3Proxy: CountingProxy;
let azProxy: CountingProxy;
let bucket: string;
let container: string;
const TOKEN = 'ya29.good-token';

const s3Store = (credentials: AwsKey, endpoint = moto.endpoint) =>
  openStore(`s3://${bucket}/p`, {
    env: {},
    s3: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 },
  });
const azStore = (key: string, endpoint = azurite.blobEndpoint) =>
  openStore(`az://${AZURITE_ACCOUNT}/${container}/p`, {
    env: {},
    azure: { endpoint, accountKey: key, maxTries: 1 },
  });
const gcsStore = (token: string) =>
  openStore('gs://authed/p', {
    env: { GOOGLE_OAUTH_ACCESS_TOKEN: token },
    gcs: { apiEndpoint: gcs.endpoint, projectId: 'test', maxRetries: 0 },
  });
const first = async (store: ObjectStore) => {
  for await (const page of store.list()) return page;
  return [];
};
const put = (store: ObjectStore, key: string, text: string) =>
  store.write(key, Readable.from([Buffer.from(text)]));

beforeAll(async () => {
  [moto, azurite, gcs] = await Promise.all([
    startMoto({ auth: true }),
    startAzurite(),
    startGcsDouble({ token: TOKEN }),
  ]);
  s3Proxy = await startCountingProxy(moto.endpoint);
  azProxy = await startCountingProxy(`http://127.0.0.1:${azurite.port}`);
  gcs.createBucket('authed');
  bucket = unique('auth');
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: moto.credentials,
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  const { BlobServiceClient } = await import('@azure/storage-blob');
  container = unique('auth');
  await BlobServiceClient.fromConnectionString(azurite.connectionString)
    .getContainerClient(container)
    .create();
}, 120_000);

afterAll(async () => {
  await s3Proxy?.stop();
  await azProxy?.stop();
  await Promise.allSettled([moto?.stop(), azurite?.stop(), gcs?.stop()]);
});

describe('S3 on moto with authentication enforced', () => {
  it('works with the right key; a wrong secret or an unknown key is PROVIDER_AUTH', async () => {
    const good = await s3Store(moto.credentials);
    await put(good, 'ok.txt', 'authenticated');
    expect((await readAll(await good.read('ok.txt'))).toString()).toBe('authenticated');
    const wrongSecret = await s3Store({ ...moto.credentials, secretAccessKey: 'x'.repeat(40) });
    const unknownKey = await s3Store({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'y' });
    for (const store of [wrongSecret, unknownKey]) {
      // A HEAD answer has no body to say why: S3 says 403, which is all mcml can report.
      await expect(store.stat('ok.txt')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(put(store, 'no.txt', 'x')).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
      await expect(first(store)).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    }
    expect(await good.stat('no.txt')).toBeUndefined();
  });

  it('a key without permission is PERMISSION_DENIED', async () => {
    const denied = await s3Store(await moto.userWithoutPermissions(unique('nobody')));
    await expect(put(denied, 'no.txt', 'x')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(denied.read('ok.txt')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  // moto 5 cannot check query-string (presigned) signatures with authentication on: it
  // answers 500 for want of an Authorization header. Presigned URLs are checked on the GCS
  // double (V4 RSA signatures) and Azurite (SAS) below.
});

describe('Azure Blob on Azurite with wrong credentials', () => {
  it('a wrong account key is PROVIDER_AUTH, and the key never appears in the error', async () => {
    const wrong = Buffer.from('not the key of this account').toString('base64');
    const store = await azStore(wrong);
    for (const attempt of [() => first(store), () => put(store, 'x.txt', 'x')]) {
      const error = (await attempt().catch((e: unknown) => e)) as Error & { code: string };
      expect(error).toMatchObject({ code: 'PROVIDER_AUTH' });
      expect(error.message).not.toContain(wrong);
    }
  });

  it('a SAS URL reads its blob; tampered, it is refused', async () => {
    const store = await azStore(AZURITE_KEY);
    await put(store, 'sas.txt', 'sas content');
    const url = await store.presign('sas.txt', 300);
    expect(await (await fetch(url)).text()).toBe('sas content');
    const tampered = url.replace(
      /sig=([^&]+)/,
      (_m, s: string) => `sig=${encodeURIComponent(Buffer.from('forged' + s).toString('base64'))}`,
    );
    expect((await fetch(tampered)).status).toBe(403);
  });
});

describe('GCS on the double requiring a bearer token', () => {
  it('works with the right token; a wrong one is PROVIDER_AUTH', async () => {
    const good = await gcsStore(TOKEN);
    await put(good, 'ok.txt', 'token content');
    expect((await readAll(await good.read('ok.txt'))).toString()).toBe('token content');
    const bad = await gcsStore('ya29.stolen-or-expired');
    await expect(bad.stat('ok.txt')).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    await expect(put(bad, 'no.txt', 'x')).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    await expect(first(bad)).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    expect(gcs.requests.get('unauthorized')).toBeGreaterThanOrEqual(3);
  });
});

describe('GCS V4 signed URLs on the double', () => {
  it('a signed URL reads its object; tampered or for another object, it is refused', async () => {
    const account = testServiceAccount();
    const signed = await startGcsDouble({ publicKeyPem: account.publicKeyPem });
    try {
      signed.createBucket('signed');
      const store = await openStore('gs://signed/p', {
        env: {},
        gcs: {
          apiEndpoint: signed.endpoint,
          projectId: 'test',
          credentials: { client_email: account.client_email, private_key: account.private_key },
        },
      });
      await put(store, 'a.txt', 'signed gcs');
      await put(store, 'b.txt', 'other');
      const url = await store.presign('a.txt', 300);
      expect(await (await fetch(url)).text()).toBe('signed gcs');
      const sig = /X-Goog-Signature=([0-9a-f]+)/.exec(url)![1]!;
      const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
      expect((await fetch(url.replace(sig, flipped))).status).toBe(403);
      expect((await fetch(url.replace('a.txt', 'b.txt'))).status).toBe(403);
    } finally {
      await signed.stop();
    }
  });
});

describe('each adapter maps 401/403/409/412/429 from its service', () => {
  const expected: [number, string, string, string][] = [
    // status, S3 code, Azure code, mcml code
    [401, 'Unauthorized', 'InvalidAuthenticationInfo', 'PROVIDER_AUTH'],
    [403, 'AccessDenied', 'AuthorizationPermissionMismatch', 'PERMISSION_DENIED'],
    [409, 'OperationAborted', 'LeaseAlreadyPresent', 'CONFLICT'],
    [412, 'PreconditionFailed', 'ConditionNotMet', 'CONFLICT'],
    [429, 'SlowDown', 'ServerBusy', 'PROVIDER_UNAVAILABLE'],
  ];
  for (const [status, s3Code, azCode, code] of expected) {
    it(`${status} → ${code}`, async () => {
      const retryable = status === 429 ? true : undefined;
      const stores: [string, () => Promise<ObjectStore>, (n: number) => void][] = [
        [
          'S3',
          () => s3Store(moto.credentials, s3Proxy.endpoint),
          (n) => s3Proxy.fail(n, status, s3Code, 's3'),
        ],
        [
          'Azure',
          () => azStore(AZURITE_KEY, `${azProxy.endpoint}/${AZURITE_ACCOUNT}`),
          (n) => azProxy.fail(n, status, azCode, 'azure'),
        ],
        ['GCS', () => gcsStore(TOKEN), (n) => gcs.failNext(n, '/', status)],
      ];
      for (const [name, open, inject] of stores) {
        const store = await open();
        inject(1);
        const listed = await first(store).catch((e: unknown) => e);
        expect(listed, `${name} list`).toMatchObject({ code });
        if (retryable) expect(listed, name).toMatchObject({ details: { retryable: true } });
        inject(1);
        await expect(put(store, 'mapped.txt', 'x'), `${name} write`).rejects.toMatchObject({
          code,
        });
        inject(0);
      }
    });
  }
});
