import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import type { ByteRange, ObjectStore } from '../../ports/object-store.js';
import { downloadPartSize, rangedRead, worthRanges } from './ranged-read.js';

const MIB = 1024 * 1024;

/** A store holding one object that serves ranges, counts them, and can fail some once. */
function store(data: Buffer, failOnce = new Set<number>()) {
  let inFlight = 0;
  const seen = { reads: 0, maxInFlight: 0 };
  const s = {
    seen,
    async read(_key: string, range?: ByteRange): Promise<Readable> {
      seen.reads++;
      inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      const start = range?.start ?? 0;
      if (failOnce.delete(start))
        throw new McmlError('PROVIDER_UNAVAILABLE', 'injected', { details: { retryable: true } });
      return Readable.from([data.subarray(start, (range?.end ?? data.length - 1) + 1)]);
    },
  };
  return s as unknown as ObjectStore & { seen: typeof seen };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const drain = async (r: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe('rangedRead', () => {
  it('delivers the exact bytes in order with at most `streams` ranges in flight', async () => {
    const data = randomBytes(10 * 64 * 1024 + 17);
    const s = store(data);
    const out = await drain(
      rangedRead(s, 'k', { size: data.length, partSize: 64 * 1024, streams: 3 }),
    );
    expect(sha(out)).toBe(sha(data));
    expect(s.seen.reads).toBe(11);
    expect(s.seen.maxInFlight).toBeLessThanOrEqual(3);
    expect(s.seen.maxInFlight).toBeGreaterThan(1);
  });

  it('retries a range that fails once', async () => {
    const data = randomBytes(4 * 1024);
    const s = store(data, new Set([2048]));
    const out = await drain(rangedRead(s, 'k', { size: data.length, partSize: 1024, streams: 2 }));
    expect(out.equals(data)).toBe(true);
    expect(s.seen.reads).toBe(5);
  });

  it('fails when the object is shorter than listed (changed under the copy)', async () => {
    const data = randomBytes(3000);
    const s = store(data);
    await expect(
      drain(rangedRead(s, 'k', { size: 4096, partSize: 1024, streams: 2, attempts: 1 })),
    ).rejects.toThrow(/gave 952 bytes/);
  });

  it('splits only objects with at least two parts per stream; parts grow with the object', () => {
    expect(worthRanges(64 * MIB, 4)).toBe(true);
    expect(worthRanges(63 * MIB, 4)).toBe(false);
    expect(worthRanges(1024 * MIB, 1)).toBe(false);
    expect(downloadPartSize(100 * MIB)).toBe(8 * MIB);
    expect(downloadPartSize(100 * 1024 * MIB)).toBe(103 * MIB);
  });
});
