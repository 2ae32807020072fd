import { describe, expect, it } from 'vitest';
import {
  formatStorageUri,
  isInside,
  joinPrefix,
  parseStorageUri,
  redactUri,
} from './storage-uri.js';

describe('parseStorageUri', () => {
  it('parses every supported form', () => {
    expect(parseStorageUri('s3://my-bucket/a/b')).toEqual({
      scheme: 's3',
      bucket: 'my-bucket',
      prefix: 'a/b/',
    });
    expect(parseStorageUri('gs://bkt')).toEqual({ scheme: 'gs', bucket: 'bkt', prefix: '' });
    expect(parseStorageUri('az://acct1/models/v1/')).toEqual({
      scheme: 'az',
      account: 'acct1',
      container: 'models',
      prefix: 'v1/',
    });
    expect(parseStorageUri('https://acct1.blob.core.windows.net/models/v1')).toEqual({
      scheme: 'az',
      account: 'acct1',
      container: 'models',
      prefix: 'v1/',
      serviceUrl: 'https://acct1.blob.core.windows.net',
    });
    expect(parseStorageUri('file:///tmp/x')).toEqual({ scheme: 'file', path: '/tmp/x' });
    expect(parseStorageUri('./data', { baseDir: '/spec/dir' })).toEqual({
      scheme: 'file',
      path: '/spec/dir/data',
    });
    expect(parseStorageUri('../data', { baseDir: '/spec/dir' })).toEqual({
      scheme: 'file',
      path: '/spec/data',
    });
    expect(parseStorageUri('data')).toEqual({ scheme: 'file', path: 'data' });
  });

  it('rejects bad input with INVALID_ARGUMENT and a hint', () => {
    for (const bad of [
      'ftp://host/x',
      's3://',
      's3:///prefix',
      'gs://UPPER/x',
      'az://acct',
      'az://acct/',
      'https://example.com/x',
      's3://bkt/a/../b',
      '',
    ]) {
      expect(() => parseStorageUri(bad), bad).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
    expect(() => parseStorageUri('ftp://host/x')).toThrow(/unknown scheme "ftp:"/);
    expect(() => parseStorageUri('s3:///x')).toThrow(/bucket name is missing/);
  });

  it('formats canonical URIs and hides SAS tokens in messages', () => {
    expect(formatStorageUri(parseStorageUri('s3://b-1/x'))).toBe('s3://b-1/x/');
    expect(redactUri('https://a.blob.core.windows.net/c?sig=SECRET')).not.toContain('SECRET');
    expect(() => parseStorageUri('https://x.blob.core.windows.net/?sig=SECRET')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('SECRET') }),
    );
  });

  it('knows when a destination lies inside the source', () => {
    const p = (u: string) => parseStorageUri(u);
    expect(isInside(p('s3://bkt/data/copy'), p('s3://bkt/data'))).toBe(true);
    expect(isInside(p('s3://bkt/data2'), p('s3://bkt/data'))).toBe(false);
    expect(isInside(p('s3://bkt/x'), p('gs://bkt/x'))).toBe(false);
    expect(isInside(p('/a/b/c'), p('/a/b'))).toBe(true);
    expect(isInside(p('/a/bc'), p('/a/b'))).toBe(false);
    expect(isInside(p('az://acct/ccc/p/q'), p('az://acct/ccc/p'))).toBe(true);
  });

  it('joins a prefix only inside the location, whatever its encoding', () => {
    const p = (u: string) => parseStorageUri(u);
    expect(formatStorageUri(joinPrefix(p('file:///srv/bucket'), 'data/x/'))).toBe(
      'file:///srv/bucket/data/x',
    );
    expect(joinPrefix(p('s3://bkt/root'), '/data/x')).toEqual(p('s3://bkt/root/data/x/'));
    for (const bad of ['../victim/', 'a/../../x', '..', './', 'a/./b', 'x\0y']) {
      for (const root of ['file:///srv/bucket', 's3://bkt/root', 'az://acct1/cont/p']) {
        expect(() => joinPrefix(p(root), bad), `${root} + ${bad}`).toThrow(
          expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
        );
      }
    }
    // "%2e%2e" is a directory of that name, not "..": the URI round-trips.
    const encoded = joinPrefix(p('file:///srv/bucket'), '%2e%2e/victim/');
    expect(encoded).toEqual({ scheme: 'file', path: '/srv/bucket/%2e%2e/victim' });
    expect(isInside(encoded, p('file:///srv/bucket'))).toBe(true);
    expect(parseStorageUri(formatStorageUri({ scheme: 'file', path: '/d/100%?#' }))).toEqual({
      scheme: 'file',
      path: '/d/100%?#',
    });
    expect(() => parseStorageUri('file:///d/100%')).toThrow(/malformed %-escape/);
  });
});
