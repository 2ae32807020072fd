/**
 * End to end: hostile and mistaken input to the CLI (issue 14, items 15 and 18). Each case
 * exits 2 with one clear message and no stack trace, and none hangs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectCleanInputError } from './clean-error.js';
import { mcml } from './run.js';

let dir: string;
const spec = `service:
  name: demo
  model: {uri: m.onnx}
  resources: {cpu: 2, memory: 4Gi}
targets:
  - {name: a, provider: aws, region: us-east-1, endpoint: "http://127.0.0.1:9"}
  - {name: b, provider: gcp, region: us-central1, endpoint: "http://127.0.0.1:9"}
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcml-cli-input-'));
  await writeFile(join(dir, 'mcml.yaml'), spec);
  await writeFile(
    join(dir, 'bomb.yaml'),
    ['a: &a [x, x, x, x, x, x, x, x, x]']
      .concat(
        'bcdefghi'
          .split('')
          .map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]!}`).join(', ')}]`),
      )
      .join('\n'),
  );
  await writeFile(join(dir, 'interval.yaml'), `${spec}failover: {check: {interval: 1000h}}\n`);
  await writeFile(
    join(dir, 'deep.yaml'),
    `${spec}budget: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`,
  );
  execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
  execFileSync('mkfifo', [join(dir, 'plan.json')]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.concurrent('bad input to the CLI: exit 2, one clear message', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'an alias bomb',
      () => ['validate', join(dir, 'bomb.yaml')],
      /bomb\.yaml expands YAML aliases more than 100 times/,
    ],
    [
      'a FIFO (no hang)',
      () => ['plan', join(dir, 'fifo.yaml')],
      /fifo\.yaml is a named pipe \(FIFO\), not a regular file/,
    ],
    [
      '/dev/zero (no memory blow-up)',
      () => ['validate', '/dev/zero'],
      /\/dev\/zero is a character device/,
    ],
    [
      'validate -f /dev/zero',
      () => ['validate', '-f', '/dev/zero'],
      /spec file \/dev\/zero is a character device, not a regular file/,
    ],
    [
      'validate -f a FIFO',
      () => ['validate', '-f', join(dir, 'fifo.yaml')],
      /fifo\.yaml is a named pipe \(FIFO\), not a regular file/,
    ],
    [
      'render --plan /dev/zero',
      () => [
        'render',
        '-f',
        join(dir, 'mcml.yaml'),
        '--plan',
        '/dev/zero',
        '--out',
        join(dir, 'o1'),
      ],
      /plan file \/dev\/zero is a character device, not a regular file/,
    ],
    [
      'render --plan a FIFO',
      () => [
        'render',
        '-f',
        join(dir, 'mcml.yaml'),
        '--plan',
        join(dir, 'plan.json'),
        '--out',
        join(dir, 'o2'),
      ],
      /plan file .*plan\.json is a named pipe \(FIFO\), not a regular file/,
    ],
    [
      'render --identities /dev/zero',
      () => [
        'render',
        '-f',
        join(dir, 'mcml.yaml'),
        '--identities',
        '/dev/zero',
        '--out',
        join(dir, 'o3'),
      ],
      /identities file \/dev\/zero is a character device, not a regular file/,
    ],
    [
      'flow nesting 400,000 deep (no quadratic parse)',
      () => ['validate', join(dir, 'deep.yaml')],
      /deep\.yaml:8:41: nests deeper than 32 levels/,
    ],
    [
      'a check interval past what a timer holds',
      () => ['validate', join(dir, 'interval.yaml')],
      /failover\.check\.interval: must be between 50ms and 1h, got "1000h"/,
    ],
    [
      'a spec path too long for the file system',
      () => ['validate', 'x'.repeat(300)],
      /the spec file path is too long \(300 characters\)/,
    ],
    [
      'mcml status --url that is not a URL',
      () => ['status', '--url', 'not a url'],
      /--url must be a URL such as http:\/\/127\.0\.0\.1:8080, got "not a url"/,
    ],
    [
      'mcml failover status --url that is not a URL',
      () => ['failover', 'status', '-f', join(dir, 'mcml.yaml'), '--url', 'not a url'],
      /--url must be a URL/,
    ],
    [
      'mcml failover drill --url that is not http',
      () => ['failover', 'drill', 'a', '-f', join(dir, 'mcml.yaml'), '--url', 'ftp://x'],
      /--url must be an http:\/\/ or https:\/\/ URL/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      expectCleanInputError(
        await mcml(args(), { env: { MCML_ADMIN_TOKEN: 't' }, timeoutMs: 30_000 }),
        pattern,
      );
    });
  }
});
