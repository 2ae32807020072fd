import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectInfo } from '../../ports/object-store.js';

let dir: string;
let cache: string;
const later = () => Date.now() + 60_000;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function listed(store: LocalObjectStore): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const page of store.list('', { hashes: true })) out.push(...page);
  return out;
}

async function indexDoc(): Promise<{ entries: Record<string, [string, string, string]> }> {
  const [file] = await readdir(cache);
  return JSON.parse(await readFile(join(cache, file!), 'utf8')) as {
    entries: Record<string, [string, string, string]>;
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-hash-index-'));
  cache = await mkdtemp(join(tmpdir(), 'mcml-hash-cache-'));
  await writeFile(join(dir, 'a.bin'), 'alpha');
  await writeFile(join(dir, 'b.bin'), 'bravo');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(cache, { recursive: true, force: true });
});

describe('the persistent hash index of a local store', () => {
  it('is used by the next run while a file is unchanged', async () => {
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    // A recorded hash the next run must trust (it does not read the file): forge one.
    const doc = await indexDoc();
    const [file] = await readdir(cache);
    doc.entries['a.bin']![1] = 'f'.repeat(64);
    await writeFile(join(cache, file!), JSON.stringify(doc));
    const next = await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    expect(next.find((o) => o.key === 'a.bin')!.sha256).toBe('f'.repeat(64));
    expect(next.find((o) => o.key === 'b.bin')!.sha256).toBe(sha('bravo'));
  });

  it('re-reads a file rewritten with the same size and its old mtime put back', async () => {
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    const before = await stat(join(dir, 'a.bin'));
    await writeFile(join(dir, 'a.bin'), 'ALPHA');
    await utimes(join(dir, 'a.bin'), before.atime, before.mtime);
    const next = await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    expect(next.find((o) => o.key === 'a.bin')!.sha256).toBe(sha('ALPHA'));
  });

  it('does not persist files changed just before they were hashed, and forgets removed ones', async () => {
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache }));
    // Both files were written within the racy window: nothing to save, no index file.
    expect(await readdir(cache)).toEqual([]);
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    expect(Object.keys((await indexDoc()).entries).sort()).toEqual(['a.bin', 'b.bin']);
    await rm(join(dir, 'b.bin'));
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    expect(Object.keys((await indexDoc()).entries)).toEqual(['a.bin']);
  });

  it('treats an unreadable index as empty', async () => {
    await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    const [file] = await readdir(cache);
    await writeFile(join(cache, file!), '{ not json');
    const next = await listed(new LocalObjectStore(dir, { hashIndexDir: cache, now: later }));
    expect(next.map((o) => o.sha256)).toEqual([sha('alpha'), sha('bravo')]);
  });
});
