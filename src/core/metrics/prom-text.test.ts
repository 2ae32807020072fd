import { describe, expect, it } from 'vitest';
import { mergePrometheusText, parsePrometheusText, sumSamples } from './prom-text.js';

const PAGE = `# HELP req_total Requests.
# TYPE req_total counter
req_total{route="/infer",status="200"} 10
req_total{route="/infer",status="503"} 2
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 3
lat_seconds_bucket{le="+Inf"} 4
lat_seconds_sum 0.5
lat_seconds_count 4
queue_depth 7
`;

describe('prometheus text', () => {
  it('groups histogram children under their family', () => {
    const families = parsePrometheusText(PAGE);
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['req_total', 'counter', 2],
      ['lat_seconds', 'histogram', 4],
      ['queue_depth', undefined, 1],
    ]);
  });

  it('sums a gauge over its series and tells when it is absent', () => {
    expect(sumSamples(PAGE, 'req_total')).toBe(12);
    expect(sumSamples(PAGE, 'queue_depth')).toBe(7);
    expect(sumSamples(PAGE, 'nope')).toBeUndefined();
  });

  it('merges pages with extra labels, one HELP/TYPE per family, escaping values', () => {
    const merged = mergePrometheusText([
      { text: PAGE, labels: { target: 'aws', cloud: 'aws' } },
      { text: 'req_total{route="/x",target="old"} 1\n', labels: { target: 'gcp "1"' } },
    ]);
    expect(merged.match(/# TYPE req_total counter/g)).toHaveLength(1);
    expect(merged).toContain('req_total{route="/infer",status="200",target="aws",cloud="aws"} 10');
    expect(merged).toContain('req_total{route="/x",target="gcp \\"1\\""} 1');
    expect(merged).toContain('lat_seconds_bucket{le="+Inf",target="aws",cloud="aws"} 4');
    // The merged page parses back to the same samples.
    expect(sumSamples(merged, 'req_total')).toBe(13);
  });
});
