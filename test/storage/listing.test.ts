/**
 * The lean listings (S3 ListObjectsV2 and Azure List Blobs read by the small XML reader) on
 * moto and Azurite: odd and unicode names, paging, and the same result as the SDKs' own
 * deserialisers; on Azure also with a SAS token and for a missing container.
 */
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readListingOf } from '../../src/adapters/aws/s3-listing.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { pipelineOf } from '../../src/adapters/azure/blob-listing.js';
import { AzureBlobObjectStore } from '../../src/adapters/azure/azure-blob-object-store.js';
import { openStore } from '../../src/adapters/storage.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports/object-store.js';
import { AZURITE_KEY } from '../helpers/azurite.js';
import { startEmulators, unique, AZURITE_ACCOUNT, type Emulators } from './fixtures.js';

let emu: Emulators;

/** Names a listing must carry through: XML entities, URL specials, unicode, spaces. */
const NAMES = [
  'plain.txt',
  'a&b<c>"d\'e.txt',
  'plus+percent%25hash#question?.txt',
  'sp ace/é ü ß.txt',
  '日本語/ファイル.bin',
  'emoji 😀/🚀.bin',
  'semi;colon=equals,comma.txt',
  'trailing space ',
  'x/y/z.txt',
];

beforeAll(async () => {
  emu = await startEmulators();
}, 120_000);

afterAll(async () => {
  await emu?.stop();
});

async function pages(store: ObjectStore): Promise<ObjectInfo[][]> {
  const out: ObjectInfo[][] = [];
  for await (const page of store.list()) out.push(page);
  return out;
}

async function fill(store: ObjectStore): Promise<void> {
  for (const name of NAMES)
    await store.write(name, Readable.from([Buffer.from(`body of ${name}`)]));
}

const sorted = [...NAMES].sort();

describe('Azure List Blobs through the lean reader (Azurite)', () => {
  const service = () => BlobServiceClient.fromConnectionString(emu.azurite.connectionString);
  const open = (container: string, prefix: string, listPageSize?: number) =>
    new AzureBlobObjectStore({
      service: service(),
      account: AZURITE_ACCOUNT,
      container,
      prefix,
      ...(listPageSize ? { listPageSize } : {}),
    });

  it('lists odd and unicode names in pages, as the SDK lists them, with sha256 and MD5', async () => {
    const container = await emu.azContainer();
    const store = open(container, 'root/', 4);
    await fill(store);
    await open(container, '').write('root-sibling.txt', Readable.from([Buffer.from('x')]));
    expect(pipelineOf(service().getContainerClient(container))).toBeTypeOf('function');
    const got = await pages(store);
    expect(got.map((p) => p.length)).toEqual([4, 4, 1]);
    const lean = got.flat();
    expect(lean.map((o) => o.key)).toEqual(sorted);
    for (const o of lean) {
      expect(o.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(o.md5).toMatch(/^[0-9a-f]{32}$/);
      expect(o.lastModified).toBeInstanceOf(Date);
    }
    const viaSdk: ObjectInfo[] = [];
    for await (const page of store.listThroughModels()) viaSdk.push(...page);
    expect(lean).toEqual(viaSdk);
  });

  it('lists under a prefix only, and an empty prefix as nothing', async () => {
    const container = await emu.azContainer();
    const store = open(container, 'p/');
    await fill(store);
    const under: ObjectInfo[] = [];
    for await (const page of store.list('emoji 😀/')) under.push(...page);
    expect(under.map((o) => o.key)).toEqual(['emoji 😀/🚀.bin']);
    const none: ObjectInfo[] = [];
    for await (const page of store.list('nothing/')) none.push(...page);
    expect(none).toEqual([]);
  });

  it('lists with a SAS token (credential in the URL) through openStore', async () => {
    const container = await emu.azContainer();
    await fill(open(container, 's/'));
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3600_000),
        permissions: AccountSASPermissions.parse('rl'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const store = await openStore(`az://${AZURITE_ACCOUNT}/${container}/s`, {
      env: { AZURE_STORAGE_SAS_TOKEN: sas, MCML_AZURE_BLOB_ENDPOINT: emu.azurite.blobEndpoint },
    });
    expect((await pages(store)).flat().map((o) => o.key)).toEqual(sorted);
  });

  it('a missing container is NOT_FOUND', async () => {
    const store = open(unique('missing'), '');
    await expect(pages(store)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('S3 ListObjectsV2 through the lean reader (moto)', () => {
  const client = () =>
    new S3Client({
      endpoint: emu.moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });

  it('lists odd and unicode names in pages, as the SDK lists them, with MD5 from the ETag', async () => {
    const bucket = await emu.s3Bucket();
    const s3 = client();
    const store = new S3ObjectStore({ client: s3, bucket, prefix: 'root/', listPageSize: 4 });
    await fill(store);
    const got = await pages(store);
    expect(got.map((p) => p.length)).toEqual([4, 4, 1]);
    const lean = got.flat();
    expect(lean.map((o) => o.key)).toEqual(sorted);
    const viaSdk = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'root/' }));
    expect(lean.map((o) => [o.key, o.size, o.lastModified, `"${o.etag}"`])).toEqual(
      (viaSdk.Contents ?? []).map((c) => [c.Key!.slice(5), c.Size, c.LastModified, c.ETag]),
    );
    for (const o of lean) expect(o.md5).toBe(o.etag);
    // The page was read by the lean reader, not by the SDK's deserialiser.
    const command = new ListObjectsV2Command({ Bucket: bucket, Prefix: 'root/' });
    const read = readListingOf(command);
    const sdkSaw = await s3.send(command);
    expect(sdkSaw.Contents).toBeUndefined();
    expect(read()?.objects.map((o) => o.key.slice(5))).toEqual(sorted);
    s3.destroy();
  });

  it('a missing bucket is NOT_FOUND', async () => {
    const s3 = client();
    const store = new S3ObjectStore({ client: s3, bucket: unique('missing'), prefix: '' });
    await expect(pages(store)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    s3.destroy();
  });
});
