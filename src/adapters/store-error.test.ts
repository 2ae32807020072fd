import { describe, expect, it } from 'vitest';
import { storeError } from './object-store-common.js';

const err = (message: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), extra);

describe('storeError', () => {
  it('names each kind of failure, with its hint and without secrets', () => {
    const cases: [unknown, string, RegExp][] = [
      [
        err('The AWS Access Key Id you provided does not exist', {
          name: 'InvalidAccessKeyId',
          $metadata: { httpStatusCode: 403 },
        }),
        'PROVIDER_AUTH',
        /no valid credentials/,
      ],
      [
        err('name too long', { code: 'ENAMETOOLONG' }),
        'INVALID_ARGUMENT',
        /a name is too long.*\(ENAMETOOLONG\)/,
      ],
      [
        err('Forbidden', { statusCode: 403 }),
        'PERMISSION_DENIED',
        /permission denied \(Forbidden\)/,
      ],
      [err('no such file', { code: 'ENOENT' }), 'NOT_FOUND', /not found/],
      [
        err('The specified container does not exist.', { name: 'ContainerNotFound' }),
        'NOT_FOUND',
        /not found/,
      ],
      [err('lease held', { statusCode: 412 }), 'CONFLICT', /a precondition failed/],
      [err('nope', { statusCode: 501 }), 'UNSUPPORTED', /does not implement/],
      [
        err('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }),
        'PROVIDER_UNAVAILABLE',
        /ECONNREFUSED/,
      ],
      [err('odd'), 'PROVIDER_UNAVAILABLE', /: odd$/],
    ];
    for (const [error, code, message] of cases) {
      const e = storeError(error, 'listing', 's3://b/p/');
      expect(e.code, String(error)).toBe(code);
      expect(e.message).toMatch(/^listing on s3:\/\/b\/p\/: /);
      expect(e.message).toMatch(message);
    }
    const slow = storeError(
      err('Service Unavailable', { statusCode: 503 }),
      'reading k',
      'az://a/c/',
    );
    expect(slow.details.retryable).toBe(true);
    expect(storeError(err('odd'), 'x', 'u').details.retryable).toBeUndefined();
    const secret = storeError(
      err('GET https://a.blob.core.windows.net/c?sv=2024&sig=abcdef0123456789abcdef failed\nmore'),
      'x',
      'u',
    );
    expect(secret.message).not.toMatch(/abcdef0123456789|more/);
  });
});
