/**
 * `mcml serve` flags given bad values (issue 14, item 18): exit 2 (the input is wrong) with a
 * message naming the flag and what it accepts, before any model is loaded; never exit 1, a
 * stack trace, or a server started with a nonsense setting.
 */
import { describe, expect, it } from 'vitest';
import { IRIS, serveFails } from './spawn.js';

describe('mcml serve flag values', () => {
  it.each<[string[], RegExp]>([
    [['--host', '999.1.1.1'], /--host "999\.1\.1\.1" is not a valid IPv4 address/],
    [['--host', 'bad_host!'], /--host "bad_host!" is not a valid host name/],
    [['--host', ''], /--host is empty/],
    // TEST-NET-1: well-formed, never an address of this machine.
    [
      ['--host', '192.0.2.1'],
      /cannot listen on 192\.0\.2\.1: it is not an address of this machine/,
    ],
    [['--port', '-1'], /--port must be an integer from 0 to 65535, got "-1"/],
    [['--max-batch', 'NaN'], /--max-batch must be an integer from 1 to 4096, got "NaN"/],
    [['--max-queue', '0'], /--max-queue must be an integer from 1 to 1000000, got "0"/],
    [['--download-streams', '0'], /--download-streams must be an integer from 1 to 64, got "0"/],
    [['--max-body', '99999gb'], /--max-body must be at most 1gb, got "99999gb"/],
    [['--drain-timeout', '1000h'], /--drain-timeout must be at most 24d \(596h\), got "1000h"/],
    [['--cache-dir', ' '], /--cache-dir is empty/],
  ])('%j: exit 2 and says what is wrong', async (args, message) => {
    const r = await serveFails(['--model', IRIS, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('names $PORT when the bad port is the one $PORT holds', async () => {
    const child = await serveFails(['--model', IRIS, '--port', 'abc'], { PORT: 'abc' });
    expect(child.code).toBe(2);
    expect(child.stderr).toMatch(/--port \(\$PORT\) must be an integer/);
  });
});
