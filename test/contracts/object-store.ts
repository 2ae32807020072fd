/**
 * The ObjectStore contract: every adapter (S3 on moto, GCS on the double, Azure on Azurite,
 * local files) runs this same suite. `create()` returns a store rooted at a fresh prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { McmlError } from '../../src/core/errors.js';
import type { ObjectInfo, ObjectStore } from '../../src/ports/object-store.js';

export interface ObjectStoreContractOptions {
  name: string;
  create: () => Promise<ObjectStore>;
  /** Size that forces the adapter's multipart/chunked path (configure small parts in create). */
  largeSize?: number;
  /** Whether presign() returns an http(s) URL this process can fetch. */
  httpPresign?: boolean;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function listAll(store: ObjectStore, prefix?: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const page of store.list(prefix)) out.push(...page);
  return out;
}

/** A body that yields some bytes and then fails, like a source that dies mid-transfer. */
function failingBody(bytes: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(bytes));
      } else {
        this.destroy(new Error('source died'));
      }
    },
  });
}

export function runObjectStoreContract(options: ObjectStoreContractOptions): void {
  const { create } = options;
  const largeSize = options.largeSize ?? 6 * 1024 * 1024 + 123;

  describe(`ObjectStore contract: ${options.name}`, () => {
    it('writes an object and reads back the same bytes, with sha256 in stat and the result', async () => {
      const store = await create();
      const data = randomBytes(70_000);
      const written = await store.write('a/b/one.bin', Readable.from([data]), {
        size: data.length,
      });
      expect(written.sha256).toBe(sha256(data));
      expect(written.size).toBe(data.length);
      const info = await store.stat('a/b/one.bin');
      expect(info).toMatchObject({ key: 'a/b/one.bin', size: data.length, sha256: sha256(data) });
      expect(info?.md5 === undefined || info.md5 === md5(data)).toBe(true);
      expect(await readAll(await store.read('a/b/one.bin'))).toEqual(data);
    });

    it('writes an empty object', async () => {
      const store = await create();
      const info = await store.write('empty', Readable.from([]));
      expect(info.size).toBe(0);
      expect((await store.stat('empty'))?.size).toBe(0);
      expect((await readAll(await store.read('empty'))).length).toBe(0);
    });

    it('reads a byte range', async () => {
      const store = await create();
      const data = Buffer.from('0123456789abcdefghij');
      await store.write('r.txt', Readable.from([data]));
      expect((await readAll(await store.read('r.txt', { start: 5, end: 9 }))).toString()).toBe(
        '56789',
      );
      expect((await readAll(await store.read('r.txt', { start: 15 }))).toString()).toBe('fghij');
    });

    it('reports a missing object: stat undefined, read NOT_FOUND', async () => {
      const store = await create();
      expect(await store.stat('nope/missing.bin')).toBeUndefined();
      await expect(store.read('nope/missing.bin')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('lists in key order, under a prefix, relative to the root', async () => {
      const store = await create();
      const keys = ['x/2.txt', 'x/1.txt', 'x/sub/3.txt', 'y/4.txt', 'x.txt', 'sp ace/é.txt'];
      for (const k of keys) await store.write(k, Readable.from([Buffer.from(k)]));
      const all = await listAll(store);
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      expect(all.find((o) => o.key === 'x/1.txt')?.size).toBe(7);
      const under = await listAll(store, 'x/');
      expect(under.map((o) => o.key)).toEqual(['x/1.txt', 'x/2.txt', 'x/sub/3.txt']);
      expect(await listAll(store, 'zzz/')).toEqual([]);
    });

    it('overwrites an object and deletes it; deleting a missing object is fine', async () => {
      const store = await create();
      await store.write('o.txt', Readable.from([Buffer.from('first')]));
      await store.write('o.txt', Readable.from([Buffer.from('second!')]));
      expect((await readAll(await store.read('o.txt'))).toString()).toBe('second!');
      expect((await store.stat('o.txt'))?.sha256).toBe(sha256(Buffer.from('second!')));
      await store.delete('o.txt');
      expect(await store.stat('o.txt')).toBeUndefined();
      await store.delete('o.txt');
      expect(await listAll(store)).toEqual([]);
    });

    it('writes a large object through the chunked path with bounded parts', async () => {
      const store = await create();
      const data = randomBytes(largeSize);
      const written = await store.write('big/large.bin', Readable.from(chunk(data, 64 * 1024)));
      expect(written.sha256).toBe(sha256(data));
      const info = await store.stat('big/large.bin');
      expect(info).toMatchObject({ size: data.length, sha256: sha256(data) });
      const back = await readAll(await store.read('big/large.bin'));
      expect(sha256(back)).toBe(sha256(data));
      const tail = await readAll(await store.read('big/large.bin', { start: largeSize - 10 }));
      expect(tail).toEqual(data.subarray(largeSize - 10));
    });

    it('never shows a partial object when the body fails mid-write', async () => {
      const store = await create();
      await store.write('keep.bin', Readable.from([Buffer.from('old content')]));
      await expect(store.write('keep.bin', failingBody(largeSize))).rejects.toThrow();
      await expect(store.write('new.bin', failingBody(1024))).rejects.toThrow();
      expect((await readAll(await store.read('keep.bin'))).toString()).toBe('old content');
      expect(await store.stat('new.bin')).toBeUndefined();
      expect((await listAll(store)).map((o) => o.key)).toEqual(['keep.bin']);
    });

    it('refuses a body whose hash differs from the expected sha256, leaving nothing', async () => {
      const store = await create();
      const data = randomBytes(1000);
      await expect(
        store.write('bad.bin', Readable.from([data]), { sha256: '0'.repeat(64) }),
      ).rejects.toMatchObject({ code: 'INTEGRITY' });
      expect(await store.stat('bad.bin')).toBeUndefined();
    });

    it('copies within the store, keeping the sha256', async () => {
      const store = await create();
      const data = randomBytes(5000);
      await store.write('src/c.bin', Readable.from([data]));
      const info = await store.copy('src/c.bin', 'dst/c.bin');
      expect(info.size).toBe(5000);
      const s = await store.stat('dst/c.bin');
      expect(s?.sha256).toBe(sha256(data));
      expect(await readAll(await store.read('dst/c.bin'))).toEqual(data);
      await expect(store.copy('src/none', 'dst/none')).rejects.toBeInstanceOf(McmlError);
    });

    it('rejects keys that escape the root', async () => {
      const store = await create();
      await expect(store.write('../evil', Readable.from([Buffer.from('x')]))).rejects.toMatchObject(
        {
          code: 'INVALID_ARGUMENT',
        },
      );
      await expect(store.stat('/abs')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('presigns a URL that reads the object', async () => {
      const store = await create();
      const data = Buffer.from('presigned content');
      await store.write('p/s.txt', Readable.from([data]));
      const url = await store.presign('p/s.txt', 300);
      if (options.httpPresign === false) {
        expect(url.startsWith('file://')).toBe(true);
        return;
      }
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(data);
    });
  });
}

function* chunk(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
