/** Builds failover specs for tests. */
import { parseSpec, type Spec } from '../../src/core/spec/index.js';

export interface SpecTarget {
  name: string;
  url: string;
  region?: string;
  tier?: number;
  probes?: string[];
}

export function failoverSpec(targets: SpecTarget[], failover: string): Spec {
  const lines = targets.map(
    (t) =>
      `  - { name: ${t.name}, provider: local, region: ${t.region ?? 'local'}, endpoint: "${t.url}"` +
      (t.tier ? `, tier: ${t.tier}` : '') +
      (t.probes ? `, probes: ${JSON.stringify(t.probes)}` : '') +
      ' }',
  );
  const text = `
service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
targets:
${lines.join('\n')}
failover:
${failover
  .trim()
  .split('\n')
  .map((l) => '  ' + l)
  .join('\n')}
`;
  return parseSpec(text, 'test.yaml').spec;
}
