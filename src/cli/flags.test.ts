import { describe, expect, it } from 'vitest';
import { exitCodeFor, McmlError } from '../core/errors.js';
import { baseUrlFlag } from './flags.js';

describe('baseUrlFlag', () => {
  it('accepts http and https base URLs and drops trailing slashes', () => {
    expect(baseUrlFlag('--url', 'http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(baseUrlFlag('--url', ' https://ml.example.com/mcml// ')).toBe(
      'https://ml.example.com/mcml',
    );
    expect(baseUrlFlag('--url', 'http://[::1]:9000')).toBe('http://[::1]:9000');
  });

  it('refuses anything else with a usage error that shows the value', () => {
    const cases: [string, RegExp][] = [
      ['not a url', /^--url must be a URL such as http:\/\/127\.0\.0\.1:8080, got "not a url"$/],
      ['http://', /must be a URL such as/],
      ['ftp://host', /must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/host"/],
      ['http://user:secret@host', /must not hold a user name or password$/],
      ['http://host/?a=1', /without "\?" or "#"/],
      ['\u001b[31m', /got "\\x1b\[31m"/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        baseUrlFlag('--url', value);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(McmlError);
      expect((error as McmlError).message).toMatch(message);
      expect((error as McmlError).message).not.toContain('secret');
      expect(exitCodeFor(error)).toBe(2);
    }
  });
});
