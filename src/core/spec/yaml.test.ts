/**
 * Hostile and unusual YAML (issue 14, items 15 and 18): every case is a SPEC_INVALID error
 * with a position and a message a person can act on — never a ReferenceError, a RangeError or
 * a run that takes minutes.
 */
import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { parseSpec } from './parse.js';
import { MAX_SPEC_BYTES, MAX_SPEC_DEPTH } from './yaml.js';

const minimal = `service:
  name: demo
  model: {uri: m.onnx}
  resources: {cpu: 2, memory: 4Gi}
targets:
  - {name: a, provider: aws, region: us-east-1}
`;

function rejection(text: string): McmlError {
  try {
    parseSpec(text, 's.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(McmlError);
    expect((error as McmlError).code).toBe('SPEC_INVALID');
    return error as McmlError;
  }
  throw new Error('expected the spec to be rejected');
}

/** The message, issues and hints as one text, as the CLI would print them. */
function shown(error: McmlError): string {
  return [
    error.message,
    ...error.issues.map((i) => `${i.path}: ${i.message} ${i.hint ?? ''}`),
    error.hint ?? '',
  ].join('\n');
}

describe('aliases', () => {
  it('refuses an alias bomb with a message, not an internal error', () => {
    const levels = 'abcdefghi'.split('');
    const bomb = levels
      .map((name, i) =>
        i === 0
          ? `${name}: &${name} ["x","x","x","x","x","x","x","x","x"]`
          : `${name}: &${name} [${Array(9)
              .fill(`*${levels[i - 1]!}`)
              .join(',')}]`,
      )
      .join('\n');
    const error = rejection(bomb);
    expect(error.message).toBe('s.yaml expands YAML aliases more than 100 times');
    expect(error.hint).toMatch(/alias bomb/);
  });

  it('names the position of an alias with no anchor', () => {
    const error = rejection('service: *nope\n');
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: 's.yaml:1:10',
        message: 'alias *nope refers to no anchor',
        hint: expect.stringMatching(/define &nope on an earlier node/) as unknown,
      }),
    ]);
  });

  it('refuses an alias that refers to an anchor defined after it', () => {
    const error = rejection(`${minimal}data: [*later]\nbudget: &later {monthly: 1}\n`);
    expect(error.issues[0]!.message).toBe('alias *later refers to no anchor');
  });

  it('refuses an alias inside the node it repeats', () => {
    const error = rejection(`${minimal}budget: &b {monthly: 1, currency: *b}\n`);
    expect(error.issues[0]!.message).toMatch(/alias \*b is inside the node anchored &b/);
  });

  it('accepts plain anchors and aliases', () => {
    const { spec } = parseSpec(
      `${minimal}  - &t {name: b, provider: gcp, region: us-central1, spot: true}\n` +
        `data: [{name: d, source: ./d, jurisdiction: us, targets: [&n a]}, {name: e, source: ./e, jurisdiction: us, targets: [*n]}]\n`,
    );
    expect(spec.data.map((d) => d.targets)).toEqual([['a'], ['a']]);
  });
});

describe('merge keys', () => {
  const merged = `x-aws: &aws {provider: aws, spot: true, onDemandFloor: 1}
service:
  name: demo
  model: {uri: m.onnx}
  resources: {cpu: 2, memory: 4Gi}
targets:
  - <<: *aws
    name: a
    region: us-east-1
  - &g {name: b, provider: gcp, region: us-central1, weight: 7}
  - <<: [*g]
    name: c
    region: europe-west1
`;

  it('merges "<<" mappings, one or a list, and ignores top-level x- keys', () => {
    const { spec } = parseSpec(merged);
    expect(spec.targets.map((t) => [t.name, t.provider, t.region, t.spot, t.weight])).toEqual([
      ['a', 'aws', 'us-east-1', true, 100],
      ['b', 'gcp', 'us-central1', false, 7],
      ['c', 'gcp', 'europe-west1', false, 7],
    ]);
    expect(spec.targets[0]!.onDemandFloor).toBe(1);
  });

  it('keys set beside "<<" win over the merged ones', () => {
    const { spec } = parseSpec(merged.replace('    name: c\n', '    name: c\n    weight: 9\n'));
    expect(spec.targets[2]!.weight).toBe(9);
  });

  it('locates a bad merged value at its anchor', () => {
    const error = rejection(merged.replace('spot: true', 'spot: maybe'));
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: 's.yaml:1:35 targets[0].spot',
        message: 'must be a boolean, got string "maybe"',
      }),
    ]);
  });

  it('still refuses x- keys below the top level', () => {
    const error = rejection(minimal.replace('  name: demo', '  name: demo\n  x-note: hi'));
    expect(error.issues[0]!.message).toBe('unknown key "x-note"');
  });
});

describe('documents, keys, nesting and size', () => {
  it('says a file holds one document when it has two', () => {
    const error = rejection(`${minimal}---\n${minimal}`);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe('s.yaml:7:1');
    expect(error.issues[0]!.message).toBe(
      'a second YAML document starts here: a spec file holds one document',
    );
    expect(shown(error)).not.toMatch(/parseAllDocuments/);
  });

  it('accepts a leading "---"', () => {
    expect(parseSpec(`---\n${minimal}`).spec.service.name).toBe('demo');
  });

  it('reports every duplicate key with its position', () => {
    const error = rejection(`${minimal}service: {name: x}\nbudget: {monthly: 1, monthly: 2}\n`);
    expect(error.issues.map((i) => `${i.path} ${i.message}`)).toEqual([
      's.yaml:7:1 duplicate key "service"',
      's.yaml:8:22 duplicate key "monthly"',
    ]);
  });

  it('refuses nesting deeper than any spec needs, in flow and block style', () => {
    const flow = `service: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const block =
      'service:\n' +
      Array.from({ length: 100 }, (_, i) => `${'  '.repeat(i + 1)}a${i}:`).join('\n');
    for (const text of [flow, block]) {
      const error = rejection(text);
      expect(shown(error)).toMatch(new RegExp(`nests deeper than ${MAX_SPEC_DEPTH} levels`));
      expect(shown(error)).not.toMatch(/call stack/i);
    }
  });

  // The parser's time grows with the square of flow nesting: 400,000 brackets (inside the
  // size limit) took minutes before the lexer check; now the lexer stops at the first one.
  it('refuses deep flow nesting before parsing it, wherever it starts', () => {
    const text = `${minimal}budget: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`;
    const error = rejection(text);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.path).toBe(`s.yaml:7:${9 + MAX_SPEC_DEPTH}`);
    expect(error.issues[0]!.message).toBe(`nests deeper than ${MAX_SPEC_DEPTH} levels`);
  });

  it('refuses text over the size limit before parsing it', () => {
    const text = minimal + `# ${'x'.repeat(MAX_SPEC_BYTES)}\n`;
    expect(rejection(text).message).toMatch(/^s\.yaml is too large: [\d,]+ characters/);
  });

  // The yaml library's own duplicate check compares every key with every other: 50,000 keys
  // took minutes (this test then runs into the test timeout); a set takes a second or two.
  it('reads a mapping of 50,000 keys', () => {
    const env = Array.from({ length: 50_000 }, (_, i) => `    K${i}: v`).join('\n');
    const { spec } = parseSpec(minimal.replace('  name: demo', `  name: demo\n  env:\n${env}`));
    expect(Object.keys(spec.service.env)).toHaveLength(50_000);
  });
});
