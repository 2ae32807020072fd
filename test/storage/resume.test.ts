/**
 * Resuming large uploads: a write killed in the middle of a part continues from the parts the
 * service holds (same source version only), a changed source restarts, a part that fails once
 * is retried alone, and abandoned uploads are cleaned up.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import { UploadJournal } from '../../src/adapters/upload-journal.js';
import { runSync, verifyStores } from '../../src/engines/sync/index.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { startCountingProxy, type CountingProxy } from '../sync/counting-proxy.js';
import { readAll } from '../contracts/object-store.js';
import { startEmulators, AZURITE_ACCOUNT, type Emulators } from './fixtures.js';

const MIB = 1024 * 1024;
const PART = 5 * MIB;
let emu: Emulators;
let proxy: CountingProxy;
let state: string;
let bucket: string;
let raw: S3Client;
let azProxy: CountingProxy;
let container: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A body that yields `data` in 256 KiB chunks. */
const body = (data: Buffer) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024);
    })(),
  );

const s3 = (prefix: string): Promise<ObjectStore> =>
  openStore(`s3://${bucket}/${prefix}`, {
    ...emu.storeOptions,
    uploadStateDir: state,
    s3: { ...emu.storeOptions.s3, endpoint: proxy.endpoint, partSize: PART, queueSize: 2 },
  });

const uploads = async (prefix: string) =>
  (await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ??
  [];

const az = (prefix: string): Promise<ObjectStore> =>
  openStore(`az://${AZURITE_ACCOUNT}/${container}/${prefix}`, {
    ...emu.storeOptions,
    azure: {
      ...emu.storeOptions.azure,
      endpoint: `${azProxy.endpoint}/${AZURITE_ACCOUNT}`,
      blockSize: PART,
    },
  });

const gs = (b: string, prefix: string): Promise<ObjectStore> =>
  openStore(`gs://${b}/${prefix}`, {
    ...emu.storeOptions,
    uploadStateDir: state,
    gcs: { ...emu.storeOptions.gcs, chunkSize: PART, simpleUploadLimit: PART },
  });

/** Resumable chunks the GCS double received (status queries not included). */
const gcsChunks = () => emu.gcs.requests.get('upload-resumable-put') ?? 0;

/**
 * Writes until `parts` part uploads were sent, then aborts while the next is in flight.
 * `sent` counts the part uploads (default: `op` requests through `counter`).
 */
async function killedWrite(
  store: ObjectStore,
  key: string,
  data: Buffer,
  parts: number,
  counter = proxy,
  op = 'PUT multipart',
  sent: () => number = () => counter.counts.get(op) ?? 0,
) {
  const controller = new AbortController();
  counter.reset();
  const before = sent();
  const timer = setInterval(() => {
    if (sent() - before > parts) controller.abort();
  }, 5);
  try {
    await expect(
      store.write(key, body(data), {
        size: data.length,
        sha256: sha(data),
        signal: controller.signal,
      }),
    ).rejects.toThrow();
  } finally {
    clearInterval(timer);
  }
}

beforeAll(async () => {
  emu = await startEmulators();
  proxy = await startCountingProxy(emu.moto.endpoint);
  state = await mkdtemp(join(tmpdir(), 'mcml-resume-'));
  bucket = await emu.s3Bucket();
  raw = new S3Client({ ...emu.storeOptions.s3, forcePathStyle: true });
  azProxy = await startCountingProxy(`http://127.0.0.1:${emu.azurite.port}`);
  container = await emu.azContainer();
}, 120_000);

afterAll(async () => {
  raw?.destroy();
  await proxy?.stop();
  await azProxy?.stop();
  await emu?.stop();
  await rm(state, { recursive: true, force: true });
});

describe('S3 multipart resume (moto)', () => {
  it('a write killed mid-part resumes from the stored parts and sends at most two parts again', async () => {
    const data = randomBytes(8 * PART + 123);
    const store = await s3('kill/');
    await killedWrite(store, 'model.bin', data, 4);
    expect(await store.stat('model.bin')).toBeUndefined();
    expect(await uploads('kill/')).toHaveLength(1);
    proxy.reset();
    const info = await store.write('model.bin', body(data), {
      size: data.length,
      sha256: sha(data),
    });
    expect(info.sha256).toBe(sha(data));
    // Blocks still in flight at the kill may be lost; those that landed are reused.
    expect(info.resumedBytes).toBeGreaterThanOrEqual(PART);
    // What the first run had stored is not sent again; at most the parts in flight at the kill.
    expect(proxy.bytesIn.value).toBeLessThanOrEqual(
      data.length - (info.resumedBytes ?? 0) + 2 * PART,
    );
    expect(sha(await readAll(await store.read('model.bin')))).toBe(sha(data));
    expect(await uploads('kill/')).toEqual([]);
  });

  it('a source that changed between runs restarts (never splices old parts)', async () => {
    const first = randomBytes(6 * PART);
    const store = await s3('changed/');
    await killedWrite(store, 'w.bin', first, 3);
    const second = Buffer.from(first);
    second.fill(7, 0, PART); // same size, first part different
    const info = await store.write('w.bin', body(second), {
      size: second.length,
      sha256: sha(second),
    });
    expect(info.resumedBytes).toBeUndefined();
    expect(sha(await readAll(await store.read('w.bin')))).toBe(sha(second));
    expect(await uploads('changed/')).toEqual([]); // the old upload was aborted
  });

  it('a part upload that fails once is retried alone', async () => {
    const data = randomBytes(4 * PART + 1);
    const store = await s3('flaky/');
    proxy.reset();
    proxy.fail(1, 500, 'InternalError', 's3', 'PUT multipart');
    const info = await store.write('f.bin', body(data), { size: data.length, sha256: sha(data) });
    expect(info.sha256).toBe(sha(data));
    // 5 parts, one of them twice; one initiate (POST) and one complete.
    expect(proxy.counts.get('PUT multipart')).toBe(6);
    expect(sha(await readAll(await store.read('f.bin')))).toBe(sha(data));
  });

  it('abandoned uploads it started are aborted; a fresh one is left to resume', async () => {
    const data = randomBytes(4 * PART);
    const store = await s3('abandoned/');
    await killedWrite(store, 'old.bin', data, 1);
    await killedWrite(store, 'fresh.bin', data, 1);
    const journal = new UploadJournal(state);
    const old = (await journal.get(store.uri, 'old.bin'))!;
    await journal.put({ ...old, startedAt: new Date(Date.now() - 2 * 86400_000).toISOString() });
    expect((await store.abandoned!()).map((a) => a.key)).toEqual(['old.bin']);
    expect((await store.cleanAbandoned!()).map((a) => a.key)).toEqual(['old.bin']);
    expect((await uploads('abandoned/')).map((u) => u.Key)).toEqual(['abandoned/fresh.bin']);
    expect(await journal.get(store.uri, 'old.bin')).toBeUndefined();
  });
});

describe('Azure block resume (Azurite)', () => {
  it('a write killed mid-block reuses the blocks staged for the same source version', async () => {
    const data = randomBytes(8 * PART + 5);
    const store = await az('kill/');
    await killedWrite(store, 'model.bin', data, 4, azProxy, 'PUT block');
    expect(await store.stat('model.bin')).toBeUndefined();
    azProxy.reset();
    const info = await store.write('model.bin', body(data), {
      size: data.length,
      sha256: sha(data),
    });
    // Blocks still in flight at the kill may be lost; those that landed are reused.
    expect(info.resumedBytes).toBeGreaterThanOrEqual(PART);
    expect(azProxy.bytesIn.value).toBeLessThanOrEqual(
      data.length - (info.resumedBytes ?? 0) + 2 * PART + 64 * 1024,
    );
    expect(sha(await readAll(await store.read('model.bin')))).toBe(sha(data));
  });

  it('a changed source stages its own blocks; a block failing once is retried', async () => {
    const first = randomBytes(5 * PART);
    const store = await az('changed/');
    await killedWrite(store, 'w.bin', first, 3, azProxy, 'PUT block');
    const second = Buffer.from(first);
    second.fill(9, 0, PART);
    azProxy.reset();
    azProxy.fail(1, 503, 'ServerBusy', 'azure', 'PUT block');
    const info = await store.write('w.bin', body(second), {
      size: second.length,
      sha256: sha(second),
    });
    expect(info.resumedBytes).toBeUndefined();
    expect(azProxy.counts.get('PUT block')).toBe(6);
    expect(sha(await readAll(await store.read('w.bin')))).toBe(sha(second));
  });
});

describe('GCS resumable session resume (GCS double)', () => {
  it('a write killed mid-chunk continues the session from the bytes GCS holds', async () => {
    const data = randomBytes(8 * PART + 77);
    const b = emu.gcsBucket();
    const store = await gs(b, 'kill/');
    await killedWrite(store, 'model.bin', data, 4, proxy, '', gcsChunks);
    expect(await store.stat('model.bin')).toBeUndefined();
    expect(emu.gcs.openSessions()).toBeGreaterThanOrEqual(1);
    const statusBefore = emu.gcs.requests.get('upload-resumable-status') ?? 0;
    const received = emu.gcs.bytesReceived.value;
    const info = await store.write('model.bin', body(data), {
      size: data.length,
      sha256: sha(data),
    });
    // Chunks go one after another: the four confirmed before the kill are kept.
    expect(info.resumedBytes).toBeGreaterThanOrEqual(4 * PART);
    expect(emu.gcs.requests.get('upload-resumable-status')).toBe(statusBefore + 1);
    // Sent again: what GCS did not hold, plus at most the chunk in flight at the kill (its
    // body may still have been arriving when the status was asked).
    expect(emu.gcs.bytesReceived.value - received).toBeLessThanOrEqual(
      data.length - info.resumedBytes! + PART,
    );
    expect(info.sha256).toBe(sha(data));
    expect(sha(await readAll(await store.read('model.bin')))).toBe(sha(data));
    expect(await new UploadJournal(state).get(store.uri, 'model.bin')).toBeUndefined();
  });

  it('a source that changed between runs cancels the old session and restarts', async () => {
    const first = randomBytes(6 * PART);
    const b = emu.gcsBucket();
    const store = await gs(b, 'changed/');
    const sessions = emu.gcs.openSessions();
    await killedWrite(store, 'w.bin', first, 3, proxy, '', gcsChunks);
    expect(emu.gcs.openSessions()).toBe(sessions + 1);
    const second = Buffer.from(first);
    second.fill(7, 0, PART); // same size, first chunk different
    const info = await store.write('w.bin', body(second), {
      size: second.length,
      sha256: sha(second),
    });
    expect(info.resumedBytes).toBeUndefined();
    expect(sha(await readAll(await store.read('w.bin')))).toBe(sha(second));
    expect(emu.gcs.openSessions()).toBe(sessions); // the old one was cancelled
  });

  it('a chunk that fails once is sent again and the object is whole', async () => {
    const data = randomBytes(4 * PART + 1);
    const b = emu.gcsBucket();
    const store = await gs(b, 'flaky/');
    const chunks = gcsChunks();
    emu.gcs.failNext(1, '/upload/', 503, 'PUT');
    const info = await store.write('f.bin', body(data), { size: data.length, sha256: sha(data) });
    expect(info.sha256).toBe(sha(data));
    expect(emu.gcs.requests.get('failed')).toBeGreaterThanOrEqual(1);
    // 5 chunks; the failed one was not counted as received, so exactly 5 arrived.
    expect(gcsChunks() - chunks).toBe(5);
    expect(sha(await readAll(await store.read('f.bin')))).toBe(sha(data));
  }, 60_000);

  it('abandoned sessions it started are cancelled; a fresh one is left to resume', async () => {
    const data = randomBytes(4 * PART);
    const b = emu.gcsBucket();
    const store = await gs(b, 'abandoned/');
    await killedWrite(store, 'old.bin', data, 1, proxy, '', gcsChunks);
    await killedWrite(store, 'fresh.bin', data, 1, proxy, '', gcsChunks);
    const open = emu.gcs.openSessions();
    const journal = new UploadJournal(state);
    const old = (await journal.get(store.uri, 'old.bin'))!;
    await journal.put({ ...old, startedAt: new Date(Date.now() - 2 * 86400_000).toISOString() });
    expect((await store.abandoned!()).map((a) => a.key)).toEqual(['old.bin']);
    expect((await store.cleanAbandoned!()).map((a) => a.key)).toEqual(['old.bin']);
    expect(emu.gcs.openSessions()).toBe(open - 1);
    expect(await journal.get(store.uri, 'old.bin')).toBeUndefined();
    expect(await journal.get(store.uri, 'fresh.bin')).toBeDefined();
  });
});

describe('the sync engine resumes through the store', () => {
  it('a killed local → S3 sync resumes on rerun and reports the bytes not sent again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcml-resume-src-'));
    try {
      const data = randomBytes(8 * PART + 9);
      await writeFile(join(dir, 'weights.bin'), data);
      const source = await openStore(dir);
      const destination = await s3('engine/');
      const controller = new AbortController();
      proxy.reset();
      const timer = setInterval(() => {
        if ((proxy.counts.get('PUT multipart') ?? 0) > 4) controller.abort();
      }, 5);
      await runSync({ source, destinations: [destination], signal: controller.signal }).catch(
        () => undefined,
      );
      clearInterval(timer);
      const r = await runSync({ source, destinations: [destination] });
      expect(r.ok).toBe(true);
      expect(r.bytesResumed).toBeGreaterThanOrEqual(3 * PART);
      expect(Object.keys(r.timings)).toEqual(['list', 'settle', 'clean', 'transfer', 'delete']);
      expect((await verifyStores(source, destination)).ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
