import { describe, expect, it } from 'vitest';
import type { ObjectInfo } from '../../ports/object-store.js';
import { compareObjects, diffListings, fanOut, keyFilter, settleUnknown } from './diff.js';
import { guessJurisdiction } from './residency.js';

const o = (key: string, size: number, h: Partial<ObjectInfo> = {}): ObjectInfo => ({
  key,
  size,
  ...h,
});

describe('compareObjects', () => {
  it('uses size, then the strongest shared hash', () => {
    expect(compareObjects(o('a', 1), o('a', 2))).toEqual({ result: 'different', by: 'size' });
    expect(
      compareObjects(o('a', 1, { sha256: 'x', md5: 'm' }), o('a', 1, { sha256: 'x', md5: 'n' }))
        .result,
    ).toBe('same');
    expect(compareObjects(o('a', 1, { md5: 'm' }), o('a', 1, { md5: 'n' }))).toEqual({
      result: 'different',
      by: 'md5',
    });
    expect(compareObjects(o('a', 1, { crc32c: 'c' }), o('a', 1, { crc32c: 'c' })).result).toBe(
      'same',
    );
    expect(compareObjects(o('a', 1, { sha256: 'x' }), o('a', 1, { md5: 'm' })).result).toBe(
      'unknown',
    );
  });
});

describe('diffListings', () => {
  it('copies missing and changed objects, skips equal ones, lists extras and unknowns', () => {
    const src = [
      o('a', 1, { md5: '1' }),
      o('b', 2, { md5: '2' }),
      o('c', 3, { md5: '3' }),
      o('d', 4, { sha256: 's' }),
    ];
    const dst = [
      o('b', 2, { md5: '2' }),
      o('c', 3, { md5: 'X' }),
      o('d', 4, { md5: 'm' }),
      o('z', 9),
    ];
    const d = diffListings(src, dst);
    expect(d.copy).toEqual([
      { key: 'a', size: 1, reason: 'missing' },
      { key: 'c', size: 3, reason: 'content' },
    ]);
    expect(d.same).toEqual(['b']);
    expect(d.unknown).toEqual(['d']);
    expect(d.extra.map((x) => x.key)).toEqual(['z']);
    const settled = settleUnknown(
      d,
      new Map(src.map((x) => [x.key, x])),
      new Map([['d', o('d', 4, { sha256: 's' })]]),
    );
    expect(settled.same).toEqual(['b', 'd']);
    expect(settled.unknown).toEqual([]);
  });

  it('applies include and exclude globs on both sides', () => {
    const src = [o('x/a.csv', 1), o('x/b.tmp', 1), o('y/c.csv', 1)];
    const d = diffListings(src, [o('x/old.tmp', 1), o('x/old.csv', 1)], {
      include: ['x/**'],
      exclude: ['**/*.tmp'],
    });
    expect(d.copy.map((c) => c.key)).toEqual(['x/a.csv']);
    expect(d.extra.map((c) => c.key)).toEqual(['x/old.csv']);
    expect(keyFilter({})('anything')).toBe(true);
  });

  it('groups copies by key so each source object is read once for all destinations', () => {
    const src = [o('a', 10), o('b', 20)];
    const items = fanOut([
      diffListings(src, []),
      diffListings(src, [o('a', 10, {})]),
      diffListings(src, []),
    ]);
    expect(items).toEqual([
      { key: 'b', size: 20, destinations: [0, 1, 2] },
      { key: 'a', size: 10, destinations: [0, 2] },
    ]);
  });
});

describe('guessJurisdiction', () => {
  it('maps the clouds region names', () => {
    expect(guessJurisdiction('us-east-1')).toBe('us');
    expect(guessJurisdiction('eastus2')).toBe('us');
    expect(guessJurisdiction('US')).toBe('us');
    expect(guessJurisdiction('eu-west-1')).toBe('eu');
    expect(guessJurisdiction('europe-west4')).toBe('eu');
    expect(guessJurisdiction('westeurope')).toBe('eu');
    expect(guessJurisdiction('EU')).toBe('eu');
    expect(guessJurisdiction('eu-west-2')).toBe('uk');
    expect(guessJurisdiction('ap-northeast-1')).toBe('jp');
    expect(guessJurisdiction('ap-southeast-1')).toBe('asia');
    expect(guessJurisdiction('ca-central-1')).toBe('ca');
    expect(guessJurisdiction('mars-1')).toBeUndefined();
  });
});
