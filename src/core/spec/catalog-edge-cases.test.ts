/**
 * Spec edge cases around what the planner and catalog rely on (the core schema tests are in
 * parse.test.ts): the shipped examples, units, bounds and nested unknown keys.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { McmlError } from '../errors.js';
import { memoryGiB, parseSpec } from './parse.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${repo}${path}`, 'utf8');

function rejects(text: string): McmlError['issues'] {
  try {
    parseSpec(text, 's.yaml');
  } catch (error) {
    expect((error as McmlError).code).toBe('SPEC_INVALID');
    return (error as McmlError).issues;
  }
  throw new Error('expected a rejection');
}

const base = (resources: string, extra = '') => `service:
  name: demo
  model: {uri: m.onnx}
  resources: ${resources}
targets:
  - {name: a, provider: aws, region: us-east-1}
${extra}`;

describe('spec edge cases', () => {
  it('parses every shipped example', () => {
    for (const name of ['three-clouds', 'residency', 'local']) {
      const { spec } = parseSpec(read(`examples/${name}/mcml.yaml`), `${name}.yaml`);
      expect(spec.targets).toHaveLength(3);
    }
  });

  it('local example: CPU-only, three emulating targets, 1s checks, 10s failback', () => {
    const { spec } = parseSpec(read('examples/local/mcml.yaml'));
    expect(spec.service.resources.gpu).toBeUndefined();
    expect(spec.targets.map((t) => [t.provider, t.emulates, t.region, t.tier])).toEqual([
      ['local', 'aws', 'us-east-1', 1],
      ['local', 'gcp', 'us-central1', 2],
      ['local', 'azure', 'eastus', 3],
    ]);
    expect(spec.failover.check.interval).toBe('1s');
    expect(spec.failover.stablePeriod).toBe('10s');
    expect(spec.failover.frontDoor.port).toBe(8080);
    expect(spec.data[0]).toMatchObject({ name: 'iris-data', source: './data', jurisdiction: 'us' });
  });

  it('reads memory in every unit', () => {
    expect(memoryGiB('16Gi')).toBe(16);
    expect(memoryGiB('512Mi')).toBe(0.5);
    expect(memoryGiB('1Ti')).toBe(1024);
    expect(memoryGiB(4)).toBe(4);
    expect(memoryGiB('2G')).toBeCloseTo(1.8626, 4);
  });

  it('rejects a GPU count out of range and a zero CPU', () => {
    expect(rejects(base('{cpu: 4, memory: 16Gi, gpu: {model: T4, count: 17}}'))[0]!.path).toBe(
      's.yaml:4:61 service.resources.gpu.count',
    );
    expect(rejects(base('{cpu: 0, memory: 1Gi}'))[0]!.path).toBe(
      's.yaml:4:20 service.resources.cpu',
    );
  });

  it('rejects a memory quantity without a known unit', () => {
    const issues = rejects(base('{cpu: 1, memory: 4GB}'));
    expect(issues[0]!.message).toMatch(/must be a quantity such as "16Gi"/);
  });

  it('rejects a model cache size that is not a disk quantity', () => {
    const issues = rejects(
      base('{cpu: 1, memory: 4Gi}').replace('{uri: m.onnx}', '{uri: m.onnx, cacheSize: 20GB}'),
    );
    expect(issues[0]).toMatchObject({
      path: expect.stringMatching(/service\.model\.cacheSize$/),
      message: expect.stringMatching(/must be a quantity such as "20Gi" or "1Ti"/),
    });
  });

  it('suggests the key inside a best-of-breed prefer block', () => {
    const issues = rejects(
      base('{cpu: 1, memory: 1Gi}', 'strategy: {type: best-of-breed, prefer: {servng: aws}}'),
    );
    expect(issues[0]).toMatchObject({
      message: 'unknown key "servng"',
      hint: 'did you mean "serving"?',
    });
  });

  it('rejects emulates on a cloud target', () => {
    const issues = rejects(
      base('{cpu: 1, memory: 1Gi}').replace(
        'region: us-east-1}',
        'region: us-east-1, emulates: gcp}',
      ),
    );
    expect(issues[0]!.message).toBe('only local targets can emulate a cloud');
  });
});
