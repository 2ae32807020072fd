import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { durationMs, memoryGiB, parseSpec } from './parse.js';
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
