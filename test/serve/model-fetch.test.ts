import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inferOnes,
  manyFilesModel,
  matMulModel,
  subgraphModel,
  weightBytes,
} from '../helpers/onnx-models.js';
import { fetchExternalData } from '../../src/apps/serve/external-data-fetch.js';
import { downloadLogger } from '../../src/apps/serve/download-log.js';
import { fetchModel } from '../../src/apps/serve/model-source.js';
import { publicSource } from '../../src/apps/serve/routes.js';
import { externalDataFiles } from '../../src/apps/serve/onnx-external.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports/object-store.js';
import { serveFails, spawnServe } from './spawn.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-onnx-external-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scan(bytes: Buffer): Promise<Awaited<ReturnType<typeof externalDataFiles>>> {
  const path = join(dir, `m-${Math.random().toString(36).slice(2)}.onnx`);
  await writeFile(path, bytes);
  return externalDataFiles(path);
}

describe('externalDataFiles', () => {
  it('finds none in a model with its weights inline, however large', async () => {
    // 1024 × 1024 float32 inline: 4 MiB skipped, not read.
    expect(await scan(matMulModel({ side: 1024 }))).toEqual([]);
  });

  it('names the file of an external initializer and the bytes the model reads of it', async () => {
    const files = await scan(
      matMulModel({ side: 8, external: { location: 'weights/w.bin', offset: 64 } }),
    );
    expect(files).toEqual([{ location: 'weights/w.bin', end: 64 + 8 * 8 * 4 }]);
  });

  it('finds external tensors inside subgraphs (an If branch)', async () => {
    expect(await scan(subgraphModel('branch.bin'))).toEqual([{ location: 'branch.bin', end: 16 }]);
  });

  it('refuses locations outside the model folder', async () => {
    for (const location of ['../secrets.bin', '/etc/passwd', 'a/../../b.bin', 'C:\\w.bin']) {
      await expect(scan(matMulModel({ side: 2, external: { location } }))).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/outside its folder/),
      });
    }
  });

  it('says a file that is not a model is not a valid ONNX model', async () => {
    const truncated = matMulModel({ side: 64 }).subarray(0, 300);
    for (const bytes of [Buffer.from('not a model at all, just text'), truncated]) {
      await expect(scan(bytes)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/is not a valid ONNX model/),
      });
    }
  });
});

describe('mcml serve with a model saved with external data', () => {
  it('loads the weights from beside the .onnx file and serves them', async () => {
    const side = 8;
    const folder = join(dir, 'local-ext');
    await mkdir(join(folder, 'weights'), { recursive: true });
    await writeFile(
      join(folder, 'model.onnx'),
      matMulModel({ side, external: { location: 'weights/w.bin' } }),
    );
    await writeFile(join(folder, 'weights', 'w.bin'), weightBytes(side, 0.25));
    const server = await spawnServe(['--model', `m=${join(folder, 'model.onnx')}`]);
    try {
      expect(await inferOnes(server.url, 'm', side)).toEqual(Array(side).fill(2));
    } finally {
      await server.stop();
    }
  });

  it('names the missing weights file (exit 2)', async () => {
    const folder = join(dir, 'local-missing');
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'model.onnx'),
      matMulModel({ side: 4, external: { location: 'model.onnx.data' } }),
    );
    const r = await serveFails(['--model', `m=${join(folder, 'model.onnx')}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `keeps weights in ${join(folder, 'model.onnx.data')}, which does not exist`,
    );
    expect(r.stderr).toMatch(/hint: keep the external data files beside the \.onnx file/);
  });
});

/** The store calls a model fetch makes, over a map of objects; `reads` counts GETs. */
function storeOf(
  objects: Map<string, { body: Buffer; sha256?: string }>,
): ObjectStore & { reads: number } {
  const info = (key: string): ObjectInfo | undefined => {
    const o = objects.get(key);
    return o ? { key, size: o.body.length, ...(o.sha256 ? { sha256: o.sha256 } : {}) } : undefined;
  };
  const store = {
    uri: 's3://b/m/',
    reads: 0,
    stat: (key: string) => Promise.resolve(info(key)),
    read: (key: string, range?: { start: number; end?: number }) => {
      store.reads++;
      const body = objects.get(key)!.body;
      const part = range ? body.subarray(range.start, (range.end ?? body.length - 1) + 1) : body;
      // Delivered in 1 MiB chunks, as a socket would.
      const chunks: Buffer[] = [];
      for (let at = 0; at < part.length; at += 1 << 20)
        chunks.push(part.subarray(at, at + (1 << 20)));
      return Promise.resolve(Readable.from(chunks));
    },
  };
  return store as unknown as ObjectStore & { reads: number };
}

describe('fetchExternalData', () => {
  const model = { name: 'm', uri: 's3://b/m/model.onnx', root: 's3://b/m/' };

  it('refuses a weights file shorter than the model reads', async () => {
    const folder = await mkdtemp(join(dir, 'short-'));
    const path = join(folder, 'model.onnx');
    await writeFile(path, matMulModel({ side: 8, external: { location: 'w.bin' } }));
    const store = storeOf(new Map([['w.bin', { body: Buffer.alloc(100) }]]));
    await expect(fetchExternalData(model, store, path)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(
        /s3:\/\/b\/m\/w\.bin holds 100 bytes, but the model reads up to byte 256/,
      ),
    });
  });

  it('fetches a model saved one file per tensor, and only what changed on the next start', async () => {
    const folder = await mkdtemp(join(dir, 'many-'));
    const path = join(folder, 'model.onnx');
    await writeFile(path, manyFilesModel(20));
    const objects = new Map(
      Array.from({ length: 20 }, (_, i) => [`w${i}.bin`, { body: weightBytes(2, i) }] as const),
    );
    const store = storeOf(new Map(objects));
    expect(await fetchExternalData(model, store, path)).toBe(20);
    expect((await readdir(folder)).filter((f) => f.endsWith('.bin'))).toHaveLength(20);
    expect(await fetchExternalData(model, store, path)).toBe(0);
    // One file with a new version in the store (its size changes the stat's version).
    const changed = storeOf(new Map([...objects, ['w7.bin', { body: weightBytes(3, 1) }]]));
    await expect(fetchExternalData(model, changed, path)).resolves.toBe(1);
    expect(await readFile(join(folder, 'w7.bin'))).toEqual(weightBytes(3, 1));
  });

  it('refuses a model that names its own file or the manifest as weights', async () => {
    const folder = await mkdtemp(join(dir, 'own-'));
    const path = join(folder, 'model.onnx');
    for (const location of ['model.onnx', '.external-data.json']) {
      await writeFile(path, matMulModel({ side: 2, external: { location } }));
      await expect(fetchExternalData(model, storeOf(new Map()), path)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
  });

  it('keeps nothing of a download whose sha256 differs from the listed one', async () => {
    const folder = await mkdtemp(join(dir, 'bad-'));
    const path = join(folder, 'model.onnx');
    await writeFile(path, matMulModel({ side: 2, external: { location: 'w.bin' } }));
    const store = storeOf(
      new Map([['w.bin', { body: weightBytes(2, 1), sha256: '0'.repeat(64) }]]),
    );
    await expect(fetchExternalData(model, store, path)).rejects.toMatchObject({
      code: 'INTEGRITY',
    });
    expect(await readdir(folder)).toEqual(['model.onnx']);
  });
});

describe('model downloads with --download-streams', () => {
  it('reads a large model object as parallel ranged GETs, in order, checked end to end', async () => {
    const body = Buffer.alloc(40 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const sum = createHash('sha256').update(body).digest('hex');
    const store = storeOf(new Map([['big.onnx', { body, sha256: sum }]]));
    const cacheDir = await mkdtemp(join(dir, 'streams-'));
    const local = await fetchModel(
      { name: 'big', uri: 's3://b/m/big.onnx', sha256: sum },
      { cacheDir, resolveStore: () => Promise.resolve(store), downloadStreams: 2 },
    );
    expect(local).toMatchObject({ sha256: sum, sha256From: 'download' });
    expect(
      createHash('sha256')
        .update(await readFile(local.path))
        .digest('hex'),
    ).toBe(sum);
    expect(store.reads).toBe(5); // 40 MiB in 8 MiB ranges
  });
});

describe("a model's source as clients see it", () => {
  it('names local files by their name and strips credentials from store URIs', () => {
    expect(publicSource('/srv/models/iris.onnx')).toBe('iris.onnx');
    expect(publicSource('file:///srv/models/iris.onnx')).toBe('iris.onnx');
    expect(publicSource('s3://models/prod/iris.onnx')).toBe('s3://models/prod/iris.onnx');
    expect(
      publicSource('https://acct.blob.core.windows.net/models/iris.onnx?sv=2024&sig=SECRET'),
    ).toBe('https://acct.blob.core.windows.net/models/iris.onnx?<redacted>');
  });
});

describe('download progress in the log', () => {
  it('logs the start, every few seconds the bytes, rate and time left, and the end', () => {
    const lines: { fields: Record<string, unknown>; msg: string }[] = [];
    const log = {
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }),
    } as unknown as Logger;
    let t = 0;
    const report = downloadLogger(log, 'llm', { everyMs: 5000, now: () => t });
    const uri = 's3://b/m/model.onnx.data?X-Amz-Signature=secret';
    const total = 1000 * 1024 * 1024;
    for (let s = 0; s <= 20; s++) {
      t = s * 1000;
      report({ uri, bytes: s * 50 * 1024 * 1024, total, done: false });
    }
    report({ uri, bytes: total, total, done: true });
    expect(lines.map((l) => l.msg)).toEqual([
      'downloading model',
      'downloading model',
      'downloading model',
      'downloading model',
      'downloading model',
      'downloaded model',
    ]);
    expect(lines[0]!.fields).toEqual({
      model: 'llm',
      source: 's3://b/m/model.onnx.data?<redacted>',
      total,
    });
    // At 10 s: 500 MiB of 1,000 at 50 MiB/s, 10 s left.
    expect(lines[2]!.fields).toMatchObject({ percent: 50, mibPerSecond: 50, etaSeconds: 10 });
    expect(lines[5]!.fields).toMatchObject({ bytes: total, seconds: 20 });
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});
