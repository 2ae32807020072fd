import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { durationMs, MAX_TIMER_MS, memoryGiB, parseSpec } from './parse.js';
import { STARTER_SPEC } from './starter.js';

function issuesOf(text: string): McmlError['issues'] {
  try {
    parseSpec(text, 'spec.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(McmlError);
    expect((error as McmlError).code).toBe('SPEC_INVALID');
    return (error as McmlError).issues;
  }
  throw new Error('expected the spec to be rejected');
}

const minimal = `service:
  name: demo
  model: {uri: models/iris.onnx}
  resources: {cpu: 2, memory: 4Gi}
targets:
  - {name: a, provider: aws, region: us-east-1}
`;

describe('parseSpec', () => {
  it('accepts the starter spec written by mcml init', () => {
    const { spec } = parseSpec(STARTER_SPEC);
    expect(spec.targets.map((t) => t.name)).toEqual(['aws-use1', 'gcp-usc1', 'azure-eus']);
    expect(spec.service.resources.gpu).toEqual({ model: 'T4', count: 1 });
  });

  it('applies defaults', () => {
    const { spec } = parseSpec(minimal);
    expect(spec.service.port).toBe(8000);
    expect(spec.failover.mode).toBe('front-door');
    expect(spec.failover.check.failureThreshold).toBe(3);
    expect(spec.strategy).toEqual({ type: 'high-availability', minClouds: 2 });
  });

  it('names line:column and suggests the nearest key for an unknown key', () => {
    const issues = issuesOf(minimal.replace('resources:', 'resorces:'));
    expect(issues.map((i) => i.path)).toContain('spec.yaml:4:3 service.resorces');
    const unknown = issues.find((i) => i.path.endsWith('service.resorces'))!;
    expect(unknown.message).toBe('unknown key "resorces"');
    expect(unknown.hint).toBe('did you mean "resources"?');
  });

  it('reports a misspelt required key once, as the typo', () => {
    const issues = issuesOf(minimal.replace('resources:', 'resorces:'));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('unknown key "resorces"');
  });

  it('reports replicas min above max once', () => {
    const text =
      minimal.replace('  resources:', '  replicas: {min: 5, max: 2}\n  resources:') +
      '  - {name: b, provider: gcp, region: us-central1}\n';
    const issues = issuesOf(text);
    expect(issues.map((i) => i.message)).toEqual([
      'replicas.min (5) is greater than replicas.max (2)',
    ]);
  });

  it('suggests the nearest enum value', () => {
    const issues = issuesOf(minimal.replace('provider: aws', 'provider: azur'));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('spec.yaml:6:25 targets[0].provider');
    expect(issues[0]!.hint).toBe('did you mean "azure"?');
  });

  it('suggests the nearest strategy type', () => {
    const issues = issuesOf(minimal + 'strategy: {type: residence}\n');
    expect(issues[0]!.path).toMatch(/^spec\.yaml:7:\d+ strategy\.type$/);
    expect(issues[0]!.hint).toBe('did you mean "residency"?');
  });

  it('reports malformed YAML with its position', () => {
    const issues = issuesOf('service:\n  name: [demo\n');
    expect(issues[0]!.path).toMatch(/^spec\.yaml:\d+:\d+$/);
  });

  it('rejects an empty file and a non-mapping', () => {
    expect(() => parseSpec('', 'e.yaml')).toThrow(/e\.yaml is empty/);
    expect(() => parseSpec('- a\n', 'l.yaml')).toThrow(/must be a mapping/);
  });

  it('rejects duplicate target names and tiers, and unknown data targets', () => {
    const text = `${minimal}  - {name: a, provider: gcp, region: us-central1, tier: 1}
  - {name: b, provider: gcp, region: us-central1, tier: 1}
data:
  - {name: d, source: ./data, jurisdiction: us, targets: [bb]}
`;
    const messages = issuesOf(text).map((i) => `${i.message} ${i.hint ?? ''}`);
    expect(messages.some((m) => m.includes('duplicate target name "a"'))).toBe(true);
    expect(messages.some((m) => m.includes('tier 1 is already used'))).toBe(true);
    expect(messages.some((m) => m.includes('unknown target "bb"') && m.includes('"b"'))).toBe(true);
  });

  it('requires dns settings for dns failover', () => {
    const messages = issuesOf(minimal + 'failover: {mode: dns}\n').map((i) => i.message);
    expect(messages[0]).toContain('needs a failover.dns section');
  });
});

describe('messages about values', () => {
  it('calls NaN and infinity by their YAML names, not "number null"', () => {
    const nan = issuesOf(minimal.replace('cpu: 2', 'cpu: .nan'));
    expect(nan[0]!.message).toBe('must be a finite number, got .nan (not a number)');
    const inf = issuesOf(minimal.replace('cpu: 2', 'cpu: .inf'));
    expect(inf[0]!.message).toBe('must be a finite number, got .inf (infinity)');
    const port = issuesOf(minimal.replace('  name: demo', '  name: demo\n  port: -.inf'));
    expect(port[0]!.message).toBe('must be a finite number, got -.inf (infinity)');
  });

  it('states the 63-character limit of names', () => {
    const long = 'a'.repeat(64);
    const issues = issuesOf(minimal.replace('name: demo', `name: ${long}`));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('must be at most 63 characters, got 64');
    expect(issues[0]!.hint).toMatch(/DNS labels and Kubernetes names/);
    expect(issuesOf(minimal.replace('name: demo', 'name: Demo_1'))[0]!.message).toMatch(
      /lower-case DNS label.*at most 63 characters/,
    );
    expect(parseSpec(minimal.replace('name: demo', `name: ${'a'.repeat(63)}`))).toBeTruthy();
  });

  it('says numeric bounds plainly', () => {
    const issues = issuesOf(minimal.replace('  name: demo', '  name: demo\n  port: 70000'));
    expect(issues[0]!.message).toBe('must be at most 65535, got 70000');
  });

  it('escapes control characters and cuts long values short', () => {
    const escape = issuesOf(minimal.replace('provider: aws', 'provider: "aw\\e[31ms\\a"'));
    expect(escape[0]!.message).toContain('got "aw\\x1b[31ms\\x07"');
    expect([...escape[0]!.message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    const huge = 'x'.repeat(900_000);
    const big = issuesOf(minimal.replace('provider: aws', `provider: ${huge}`));
    expect(big[0]!.message.length).toBeLessThan(300);
    expect(big[0]!.message).toMatch(/… \(899920 more characters\)"$/);
    const key = issuesOf(minimal.replace('  name: demo', `  name: demo\n  ${huge}: 1`));
    expect(key[0]!.message.length).toBeLessThan(300);
    const explicit = issuesOf(minimal.replace('  name: demo', `  name: demo\n  ? ${huge}\n  : 1`));
    expect(explicit[0]!.message).toMatch(/^unknown key "x{80}… \(899920 more characters\)"$/);
  });

  it('lists at most ten target names in a hint', () => {
    const targets = Array.from(
      { length: 30 },
      (_, i) => `  - {name: t${i}, provider: aws, region: us-east-1}`,
    ).join('\n');
    const text = `${minimal.replace(/targets:[\s\S]*/, `targets:\n${targets}\n`)}data: [{name: d, source: ./d, jurisdiction: us, targets: [zzzzzz]}]\n`;
    const issue = issuesOf(text).find((i) => i.message === 'unknown target "zzzzzz"')!;
    expect(issue.hint).toBe('targets are: t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, … (20 more)');
  });
});

describe('durations', () => {
  const failover = (check: string) => `${minimal}failover: ${check}\n`;

  it("refuse values a timer cannot hold, per field, with the field's range", () => {
    const cases: [string, string][] = [
      [
        '{check: {interval: 1000h}}',
        'failover.check.interval: must be between 50ms and 1h, got "1000h"',
      ],
      [
        '{check: {timeout: 1000h}}',
        'failover.check.timeout: must be between 10ms and 10m, got "1000h"',
      ],
      [
        '{check: {interval: 0}}',
        'failover.check.interval: must be between 50ms and 1h, got 0 (seconds)',
      ],
      ['{stablePeriod: 25h}', 'failover.stablePeriod: must be between 0s and 24h, got "25h"'],
      [
        '{frontDoor: {upstreamTimeout: 0ms}}',
        'failover.frontDoor.upstreamTimeout: must be between 10ms and 1h, got "0ms"',
      ],
    ];
    for (const [yaml, expected] of cases) {
      const issues = issuesOf(failover(yaml));
      expect(
        issues.map((i) => i.path.replace(/^spec\.yaml:\d+:\d+ /, '') + ': ' + i.message),
      ).toEqual([expected]);
    }
    const scrape = issuesOf(`${minimal}monitoring: {scrapeInterval: 9999999s}\n`);
    expect(scrape[0]!.message).toBe('must be between 1s and 1h, got "9999999s"');
  });

  it('accepts the bounds themselves', () => {
    const { spec } = parseSpec(
      failover(
        '{check: {interval: 1h, timeout: 10ms}, stablePeriod: 0, frontDoor: {upstreamTimeout: 3600}}',
      ),
    );
    expect(spec.failover.check.interval).toBe('1h');
    expect(spec.failover.frontDoor.upstreamTimeout).toBe(3600);
  });

  it('durationMs never returns more than a timer holds', () => {
    expect(durationMs('596h')).toBe(596 * 3_600_000);
    expect(() => durationMs('597h')).toThrow(/longer than the longest timer/);
    expect(() => durationMs(1e300)).toThrow(/longer than the longest timer/);
    expect(() => durationMs(Number.NaN)).toThrow(/not a duration/);
    expect(() => durationMs('1e9s')).toThrow(/not a duration/);
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
  });
});

describe('quantities', () => {
  it('parses durations and memory', () => {
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('2s')).toBe(2000);
    expect(durationMs('5m')).toBe(300_000);
    expect(durationMs(3)).toBe(3000);
    expect(memoryGiB('16Gi')).toBe(16);
    expect(memoryGiB('512Mi')).toBe(0.5);
    expect(memoryGiB(8)).toBe(8);
  });
});
