/**
 * The sync engine end to end on real emulators: file → S3 (moto) → Azure (Azurite) → GCS
 * (JSON API double), fan-out, no-op resync, change detection, --max-delete, retries and
 * server-side copies.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/storage.js';
import { McmlError } from '../../src/core/errors.js';
import { runSync, verifyStores, type SyncEvent } from '../../src/engines/sync/index.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { startEmulators, unique, AZURITE_ACCOUNT, type Emulators } from '../storage/fixtures.js';
import { readAll } from '../contracts/object-store.js';
import { startCountingProxy, type CountingProxy } from './counting-proxy.js';
import { startAzureFromUrlDouble } from '../doubles/azure-from-url.js';

const MIB = 1024 * 1024;
let emu: Emulators;
let dir: string;
let s3Proxy: CountingProxy;
let azProxy: CountingProxy;
let bucket: string;
let container: string;
let gcsBucket: string;
const files = new Map<string, Buffer>();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function writeTree(root: string, tree: Map<string, Buffer>) {
  for (const [k, v] of tree) {
    await mkdir(dirname(join(root, k)), { recursive: true });
    await writeFile(join(root, k), v);
  }
}

const s3 = (prefix: string, counted = false) =>
  openStore(`s3://${bucket}/${prefix}`, {
    ...emu.storeOptions,
    s3: {
      ...emu.storeOptions.s3,
      partSize: 5 * MIB,
      ...(counted ? { endpoint: s3Proxy.endpoint } : {}),
    },
  });
const az = (prefix: string, counted = false) =>
  openStore(`az://${AZURITE_ACCOUNT}/${container}/${prefix}`, {
    ...emu.storeOptions,
    azure: {
      ...emu.storeOptions.azure,
      blockSize: 2 * MIB,
      ...(counted ? { endpoint: `${azProxy.endpoint}/${AZURITE_ACCOUNT}` } : {}),
    },
  });
const gs = (prefix: string) =>
  openStore(`gs://${gcsBucket}/${prefix}`, {
    ...emu.storeOptions,
    gcs: { ...emu.storeOptions.gcs, simpleUploadLimit: 1 * MIB },
  });

async function contents(store: ObjectStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const page of store.list()) {
    for (const o of page) out.set(o.key, sha(await readAll(await store.read(o.key))));
  }
  return out;
}

const expected = () => new Map([...files].map(([k, v]) => [k, sha(v)]));

/** A --server-side sync, and whether it had to fall back to streaming. */
async function serverSideSync(source: ObjectStore, destination: ObjectStore) {
  const events: SyncEvent[] = [];
  const r = await runSync({
    source,
    destinations: [destination],
    serverSide: true,
    onEvent: (e) => events.push(e),
  });
  return { r, fellBack: events.some((e) => e.type === 'fallback') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-sync-'));
  emu = await startEmulators();
  s3Proxy = await startCountingProxy(emu.moto.endpoint);
  azProxy = await startCountingProxy(`http://127.0.0.1:${emu.azurite.port}`);
  bucket = await emu.s3Bucket();
  container = await emu.azContainer();
  gcsBucket = emu.gcsBucket();
  for (let i = 0; i < 40; i++)
    files.set(`small/${String(i).padStart(3, '0')}.bin`, randomBytes(1000 + i * 37));
  files.set('nested/deeper/model.onnx', randomBytes(300_000));
  files.set('empty.txt', Buffer.alloc(0));
  files.set('big/weights.bin', randomBytes(11 * MIB + 7));
  await writeTree(join(dir, 'src'), files);
}, 120_000);

afterAll(async () => {
  await s3Proxy?.stop();
  await azProxy?.stop();
  await emu?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('sync end to end', () => {
  it('replicates file → S3 → Azure → GCS with every hash intact', async () => {
    const local = await openStore(join(dir, 'src'));
    const s3Store = await s3('chain/');
    const azStore = await az('chain/');
    const gsStore = await gs('chain/');
    const r1 = await runSync({ source: local, destinations: [s3Store] });
    expect(r1.ok).toBe(true);
    expect(r1.destinations[0]!.copied).toBe(files.size);
    const r2 = await runSync({ source: s3Store, destinations: [azStore] });
    expect(r2.ok).toBe(true);
    const r3 = await runSync({ source: azStore, destinations: [gsStore] });
    expect(r3.ok).toBe(true);
    expect(r3.destinations[0]!.copied).toBe(files.size);
    for (const store of [s3Store, azStore, gsStore]) {
      expect(await contents(store)).toEqual(expected());
      // Every object carries its sha256 in metadata.
      for (const k of files.keys()) expect((await store.stat(k))?.sha256).toBe(sha(files.get(k)!));
    }
    const v = await verifyStores(local, gsStore);
    expect(v).toMatchObject({ ok: true, missing: [], different: [], extra: [] });
    expect(v.same).toBe(files.size);
  });

  it('fans out: each source object is read once for three destinations', async () => {
    const local = await openStore(join(dir, 'src'));
    const dests = [await s3('fan/'), await az('fan/'), await gs('fan/')];
    const total = [...files.values()].reduce((a, b) => a + b.length, 0);
    const report = await runSync({ source: local, destinations: dests });
    expect(report.ok).toBe(true);
    expect(report.objectsRead).toBe(files.size);
    expect(report.bytesRead).toBe(total);
    for (const d of report.destinations) expect(d.copied).toBe(files.size);
    for (const d of dests) expect(await contents(d)).toEqual(expected());
  });

  it('a no-op resync copies nothing and makes no per-object request (listings only)', async () => {
    const local = await openStore(join(dir, 'src'));
    const first = await runSync({ source: local, destinations: [await s3('noop/', true)] });
    expect(first.ok).toBe(true);
    const s3src = await s3('noop/', true);
    const azDst = await az('noop/', true);
    await runSync({ source: s3src, destinations: [azDst] });
    s3Proxy.reset();
    azProxy.reset();
    const again = await runSync({ source: local, destinations: [await s3('noop/', true)] });
    expect(again.destinations[0]).toMatchObject({ copied: 0, unchanged: files.size });
    const again2 = await runSync({
      source: await s3('noop/', true),
      destinations: [await az('noop/', true)],
    });
    expect(again2.destinations[0]).toMatchObject({ copied: 0, unchanged: files.size });
    // The multipart object has no MD5 ETag on S3: one HEAD per sync reads its sha256 metadata.
    expect(Object.fromEntries(s3Proxy.counts)).toEqual({ 'GET list': 2, 'HEAD object': 2 });
    expect(Object.fromEntries(azProxy.counts)).toEqual({ 'GET list': 1 });
    expect(again.objectsRead + again2.objectsRead).toBe(0);
  });

  it('detects a changed object of the same size and copies only it', async () => {
    const root = join(dir, 'changing');
    await writeTree(root, files);
    const local = await openStore(root);
    const dst = await az('changing/');
    await runSync({ source: local, destinations: [dst] });
    const changed = randomBytes(files.get('small/007.bin')!.length);
    await writeFile(join(root, 'small/007.bin'), changed);
    const events: SyncEvent[] = [];
    const r = await runSync({ source: local, destinations: [dst], onEvent: (e) => events.push(e) });
    expect(r.destinations[0]).toMatchObject({ copied: 1, unchanged: files.size - 1 });
    expect(
      events.filter((e) => e.type === 'copied').map((e) => (e as { key: string }).key),
    ).toEqual(['small/007.bin']);
    expect(sha(await readAll(await dst.read('small/007.bin')))).toBe(sha(changed));
    const dry = await runSync({ source: local, destinations: [dst], dryRun: true });
    expect(dry.destinations[0]!.wouldCopy).toEqual([]);
  });

  it('--max-delete refuses a mass delete before copying or deleting anything', async () => {
    const local = await openStore(join(dir, 'src'));
    const dst = await gs('deleting/');
    for (let i = 0; i < 5; i++)
      await dst.write(`stale/${i}.txt`, Readable.from([Buffer.from(`old ${i}`)]));
    await expect(
      runSync({ source: local, destinations: [dst], delete: true, maxDelete: 3 }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const keys: string[] = [];
    for await (const page of dst.list()) keys.push(...page.map((o) => o.key));
    expect(keys).toEqual([
      'stale/0.txt',
      'stale/1.txt',
      'stale/2.txt',
      'stale/3.txt',
      'stale/4.txt',
    ]);
    const ok = await runSync({ source: local, destinations: [dst], delete: true, maxDelete: 5 });
    expect(ok.destinations[0]).toMatchObject({ deleted: 5, copied: files.size });
    expect(await contents(dst)).toEqual(expected());
  });

  it('retries throttling and 5xx with backoff and still completes', async () => {
    const local = await openStore(join(dir, 'src'));
    const dst = await gs('retry/');
    const events: SyncEvent[] = [];
    emu.gcs.failNext(12, '/upload/');
    const r = await runSync({
      source: local,
      destinations: [dst],
      transfers: 4,
      sleep: () => Promise.resolve(),
      onEvent: (e) => events.push(e),
    });
    expect(r.ok).toBe(true);
    expect(emu.gcs.requests.get('failed')).toBeGreaterThanOrEqual(12);
    expect(await contents(dst)).toEqual(expected());
  });

  it('--server-side falls back to streaming where the service lacks Put Block From URL (Azurite)', async () => {
    const src = await s3('chain/');
    const dst = await az('server-side/');
    const { r, fellBack } = await serverSideSync(src, dst);
    expect(r.ok).toBe(true);
    expect(fellBack).toBe(true);
    expect(r.destinations[0]!.copied).toBe(files.size);
    expect(await contents(dst)).toEqual(expected());
    expect((await verifyStores(src, dst)).ok).toBe(true);
  });

  it('--server-side stages blocks from a presigned S3 URL: the bytes skip the client', async () => {
    const double = await startAzureFromUrlDouble(
      emu.storeOptions.azure!.endpoint!,
      AZURITE_ACCOUNT,
      emu.storeOptions.azure!.accountKey!,
    );
    try {
      const src = await s3('chain/');
      const dst = await openStore(`az://${AZURITE_ACCOUNT}/${container}/from-url/`, {
        ...emu.storeOptions,
        azure: { ...emu.storeOptions.azure, endpoint: double.endpoint },
      });
      const { r, fellBack } = await serverSideSync(src, dst);
      expect(r.ok).toBe(true);
      expect(fellBack).toBe(false);
      expect(r.destinations[0]!.serverSide).toBe(files.size);
      const total = [...files.values()].reduce((n, b) => n + b.length, 0);
      // Azure fetched every byte from S3 itself; the client sent none of them.
      expect(double.fromUrl.bytes).toBe(total);
      expect(double.clientBodyBytes.value).toBe(0);
      expect(await contents(dst)).toEqual(expected());
      // The sha256 travels in metadata, so a verify and a resync see the copies as equal.
      expect((await verifyStores(src, dst)).ok).toBe(true);
      const again = await runSync({ source: src, destinations: [dst], serverSide: true });
      expect(again.destinations[0]!.copied).toBe(0);

      // An object another tool wrote has no sha256 to carry over: it is streamed (and hashed).
      const raw = new S3Client({ ...emu.storeOptions.s3, forcePathStyle: true });
      await raw.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'foreign/x.bin', Body: randomBytes(5000) }),
      );
      raw.destroy();
      const foreignDst = await openStore(`az://${AZURITE_ACCOUNT}/${container}/foreign/`, {
        ...emu.storeOptions,
        azure: { ...emu.storeOptions.azure, endpoint: double.endpoint },
      });
      const foreign = await runSync({
        source: await s3('foreign/'),
        destinations: [foreignDst],
        serverSide: true,
      });
      expect(foreign.destinations[0]).toMatchObject({ copied: 1, serverSide: 0 });
      expect((await foreignDst.stat('x.bin'))?.sha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await double.stop();
    }
  });

  it('refuses a destination inside the source', async () => {
    const local = await openStore(join(dir, 'src'));
    await expect(
      runSync({ source: local, destinations: [await openStore(join(dir, 'src', 'copy'))] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const s = await s3('a/');
    await expect(runSync({ source: s, destinations: [await s3('a/b/')] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('leftovers of interrupted local writes', () => {
  it('a rerun removes temp files of dead writers, verify shows them, marker-like names sync', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const src = join(dir, 'temp-src');
    const dst = join(dir, 'temp-dst');
    await writeTree(
      src,
      new Map([
        ['notes.mcml-tmp-1.txt', Buffer.from('a user file that looks like a temp file')],
        ['..mcml-tmp-abc', Buffer.from('not our exact pattern either')],
        ['sub/model.bin', randomBytes(1000)],
      ]),
    );
    const stale = [`sub/..mcml-tmp-${dead}-0123456789ab`, '..mcml-tmp-aaaaaaaaaaaa'];
    const live = `..mcml-tmp-${process.pid}-bbbbbbbbbbbb`;
    await writeTree(dst, new Map([...stale, live].map((k) => [k, randomBytes(4096)])));
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(dst, stale[1]!), hourAgo, hourAgo);
    const source = await openStore(src);
    const destination = await openStore(dst);

    const before = await verifyStores(source, destination);
    expect(before.ok).toBe(false);
    expect(before.abandoned).toEqual([...stale].sort());

    const r = await runSync({ source, destinations: [destination] });
    expect(r.ok).toBe(true);
    expect(r.destinations[0]).toMatchObject({ copied: 3, abandonedRemoved: 2 });
    const raw = (await readdir(dst, { recursive: true })).sort();
    expect(raw).toEqual(
      ['..mcml-tmp-abc', live, 'notes.mcml-tmp-1.txt', 'sub', 'sub/model.bin'].sort(),
    );
    expect((await verifyStores(source, destination)).ok).toBe(true);
  });
});

describe('bad input', () => {
  it('lists each side as soon as it opens; a side that fails to open fails the run with its own error', async () => {
    const done = await runSync({
      source: openStore(join(dir, 'src')),
      destinations: [s3('opening/'), az('opening/')],
    });
    expect(done.ok).toBe(true);
    expect(done.destinations.map((d) => d.copied)).toEqual([files.size, files.size]);
    const denied = new McmlError('PERMISSION_DENIED', 'opening az://x/y: access denied');
    await expect(
      runSync({
        source: s3('opening/'),
        destinations: [
          az('opening/'),
          new Promise<ObjectStore>((_, reject) => setTimeout(() => reject(denied), 5)),
        ],
      }),
    ).rejects.toBe(denied);
  });

  it('reports a missing bucket as NOT_FOUND', async () => {
    const local = await openStore(join(dir, 'src'));
    const missing = await openStore(`s3://${unique('nobucket')}/x`, emu.storeOptions);
    await expect(runSync({ source: local, destinations: [missing] })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
