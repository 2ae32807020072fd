import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';
import { fetchModel, modelFromEnv, parseModelSpec } from './model-source.js';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** An in-memory ObjectStore that counts reads, standing in for s3:// in these tests. */
class MemoryStore implements ObjectStore {
  readonly scheme = 's3' as const;
  reads = 0;
  constructor(
    readonly uri: string,
    readonly objects: Map<string, Buffer>,
    private readonly withSha = true,
  ) {}
  list(): AsyncIterable<ObjectInfo[]> {
    throw new Error('not used');
  }
  stat(key: string): Promise<ObjectInfo | undefined> {
    const body = this.objects.get(key);
    if (!body) return Promise.resolve(undefined);
    return Promise.resolve({
      key,
      size: body.length,
      etag: `"${sha(body).slice(0, 16)}"`,
      ...(this.withSha ? { sha256: sha(body) } : {}),
    });
  }
  read(key: string): Promise<Readable> {
    this.reads++;
    return Promise.resolve(Readable.from([this.objects.get(key)!]));
  }
  write(): Promise<ObjectInfo> {
    throw new Error('not used');
  }
  delete(): Promise<void> {
    throw new Error('not used');
  }
  copy(): Promise<ObjectInfo> {
    throw new Error('not used');
  }
  presign(): Promise<string> {
    throw new Error('not used');
  }
  location(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}

async function rejection(p: Promise<unknown>): Promise<McmlError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof McmlError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-serve-src-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseModelSpec', () => {
  it('takes name=URI, a bare path (name from the file stem) and #sha256=', () => {
    expect(parseModelSpec('iris=models/iris.onnx')).toEqual({
      name: 'iris',
      uri: 'models/iris.onnx',
    });
    expect(parseModelSpec('models/mlp-large.onnx')).toEqual({
      name: 'mlp-large',
      uri: 'models/mlp-large.onnx',
    });
    const hex = 'A'.repeat(64);
    expect(parseModelSpec(`m=s3://bucket/a/model.onnx#sha256=${hex}`)).toEqual({
      name: 'm',
      uri: 's3://bucket/a/model.onnx',
      sha256: 'a'.repeat(64),
    });
    expect(parseModelSpec('/data/x=1/model.onnx').name).toBe('model');
  });

  it('rejects bad checksums, names and empty specs', () => {
    expect(() => parseModelSpec('m=x.onnx#sha256=abc')).toThrow(/64 hex digits/);
    expect(() => parseModelSpec('')).toThrow(/empty model/);
    expect(() => parseModelSpec('m=')).toThrow(/no model path/);
  });

  it('reads MODEL_PATH, MODEL_NAME and MODEL_SHA256', () => {
    expect(modelFromEnv({})).toBeUndefined();
    expect(modelFromEnv({ MODEL_PATH: '/models/resnet.onnx', MODEL_NAME: 'resnet50' })).toEqual({
      name: 'resnet50',
      uri: '/models/resnet.onnx',
    });
    expect(() => modelFromEnv({ MODEL_PATH: 'a.onnx', MODEL_SHA256: 'nope' })).toThrow(
      /MODEL_SHA256/,
    );
  });
});

describe('fetchModel', () => {
  it('uses local paths and file:// URIs in place and verifies the sha256', async () => {
    const path = join(dir, 'local.onnx');
    await writeFile(path, 'model bytes');
    const plain = await fetchModel(
      { name: 'm', uri: path, sha256: sha('model bytes') },
      { cacheDir: dir },
    );
    expect(plain).toMatchObject({ path, sha256: sha('model bytes'), cached: false });
    const url = await fetchModel({ name: 'm', uri: pathToFileURL(path).href }, { cacheDir: dir });
    expect(url.path).toBe(path);
    const bad = await rejection(
      fetchModel({ name: 'm', uri: path, sha256: '0'.repeat(64) }, { cacheDir: dir }),
    );
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toMatch(/sha256 mismatch/);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    const e = await rejection(
      fetchModel({ name: 'm', uri: join(dir, 'nope.onnx') }, { cacheDir: dir }),
    );
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/no such file/);
  });

  it('refuses remote schemes without a store, and unknown schemes', async () => {
    const e = await rejection(fetchModel({ name: 'm', uri: 's3://b/m.onnx' }, { cacheDir: dir }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/s3:\/\/ model URIs are not supported/);
    const f = await rejection(
      fetchModel({ name: 'm', uri: 'ftp://host/m.onnx' }, { cacheDir: dir }),
    );
    expect(f.message).toMatch(/unsupported URI scheme ftp:/);
  });

  it('downloads through the store once, then serves from the cache', async () => {
    const body = Buffer.from('remote model v1');
    const store = new MemoryStore('s3://bucket/models/', new Map([['m.onnx', body]]));
    const roots: string[] = [];
    const resolveStore = (uri: string) => {
      roots.push(uri);
      return Promise.resolve(store);
    };
    const cacheDir = join(dir, 'cache');
    const spec = { name: 'm', uri: 's3://bucket/models/m.onnx', sha256: sha(body) };
    const first = await fetchModel(spec, { cacheDir, resolveStore });
    expect(first.cached).toBe(false);
    expect(await readFile(first.path)).toEqual(body);
    const second = await fetchModel(spec, { cacheDir, resolveStore });
    expect(second).toMatchObject({ cached: true, path: first.path, sha256: sha(body) });
    expect(store.reads).toBe(1);
    expect(roots).toEqual(['s3://bucket/models/', 's3://bucket/models/']);

    // A new version of the object (new etag) is a new cache entry.
    store.objects.set('m.onnx', Buffer.from('remote model v2'));
    const third = await fetchModel({ name: 'm', uri: spec.uri }, { cacheDir, resolveStore });
    expect(third.cached).toBe(false);
    expect(third.path).not.toBe(first.path);
    expect(store.reads).toBe(2);
  });

  it('refuses a download whose sha256 differs from the pinned one, and keeps nothing', async () => {
    const store = new MemoryStore('gs://b/', new Map([['x.onnx', Buffer.from('tampered')]]), false);
    const cacheDir = join(dir, 'cache2');
    const e = await rejection(
      fetchModel(
        { name: 'x', uri: 'gs://b/x.onnx', sha256: sha('original') },
        { cacheDir, resolveStore: () => Promise.resolve(store) },
      ),
    );
    expect(e.message).toMatch(/sha256 mismatch for gs:\/\/b\/x.onnx/);
    const again = await rejection(
      fetchModel(
        { name: 'x', uri: 'gs://b/x.onnx', sha256: sha('original') },
        { cacheDir, resolveStore: () => Promise.resolve(store) },
      ),
    );
    expect(again.message).toMatch(/sha256 mismatch/);
    expect(store.reads).toBe(2);
  });

  it('reports a missing remote object as NOT_FOUND', async () => {
    const store = new MemoryStore('az://acct/c/', new Map());
    const e = await rejection(
      fetchModel(
        { name: 'x', uri: 'az://acct/c/x.onnx' },
        { cacheDir: dir, resolveStore: () => Promise.resolve(store) },
      ),
    );
    expect(e.code).toBe('NOT_FOUND');
  });

  it("remembers a model file's sha256 across starts until the file changes", async () => {
    const path = join(dir, 'big.onnx');
    await writeFile(path, 'weights v1');
    const hashIndexDir = join(dir, 'hashes');
    // The clock runs an hour ahead: the file was not written in the racy two seconds.
    const options = { cacheDir: dir, hashIndexDir, now: () => Date.now() + 3_600_000 };
    const spec = { name: 'm', uri: path };
    expect(await fetchModel(spec, options)).toMatchObject({
      sha256: sha('weights v1'),
      sha256From: 'read',
    });
    // The next start stats the file instead of reading it.
    const again = await fetchModel({ ...spec, sha256: sha('weights v1') }, options);
    expect(again).toMatchObject({ sha256: sha('weights v1'), sha256From: 'index' });

    // Any write changes the file's stamp (ctime), even one that keeps its size: read again.
    await truncate(path, 0);
    await appendFile(path, 'weights v2');
    const changed = await fetchModel(spec, options);
    expect(changed).toMatchObject({ sha256: sha('weights v2'), sha256From: 'read' });
    const pinned = await rejection(fetchModel({ ...spec, sha256: sha('weights v1') }, options));
    expect(pinned.message).toMatch(/sha256 mismatch/);
    // Without an index directory every start reads the file.
    expect((await fetchModel(spec, { cacheDir: dir })).sha256From).toBe('read');
  });

  it('does not remember a file written in the two seconds before it was read', async () => {
    const path = join(dir, 'fresh.onnx');
    await writeFile(path, 'just written');
    const options = { cacheDir: dir, hashIndexDir: join(dir, 'hashes-racy') };
    expect((await fetchModel({ name: 'm', uri: path }, options)).sha256From).toBe('read');
    expect((await fetchModel({ name: 'm', uri: path }, options)).sha256From).toBe('read');
  });

  it('verifies a cached download from the index on later starts', async () => {
    const body = Buffer.from('remote weights');
    const store = new MemoryStore('s3://bucket/m/', new Map([['w.onnx', body]]));
    const resolveStore = () => Promise.resolve(store);
    const options = {
      cacheDir: join(dir, 'cache3'),
      hashIndexDir: join(dir, 'hashes-cache'),
      now: () => Date.now() + 3_600_000,
      resolveStore,
    };
    const spec = { name: 'w', uri: 's3://bucket/m/w.onnx' };
    expect((await fetchModel(spec, options)).sha256From).toBe('download');
    expect(await fetchModel(spec, options)).toMatchObject({ cached: true, sha256From: 'read' });
    expect(await fetchModel(spec, options)).toMatchObject({ cached: true, sha256From: 'index' });
    expect(store.reads).toBe(1);
  });
});
