import { describe, expect, it } from 'vitest';
import { parseSpec } from '../spec/index.js';
import { checkDestinationJurisdiction, checkReportedLocation, planDataSets } from './residency.js';

const lookup = (cloud: string, region: string) =>
  (
    ({ 'aws/us-east-1': 'us', 'gcp/europe-west1': 'eu', 'azure/eastus': 'us' }) as Record<
      string,
      'us' | 'eu'
    >
  )[`${cloud}/${region}`];

const spec = (data: string) =>
  parseSpec(
    `version: 1
service: { name: s, model: { uri: ./m.onnx, name: m }, resources: { cpu: 1, memory: 1Gi } }
targets:
  - { name: us-aws, provider: aws, region: us-east-1, bucket: "s3://us-bucket/root" }
  - { name: eu-gcp, provider: gcp, region: europe-west1, bucket: "gs://eu-bucket" }
  - { name: fake-az, provider: local, emulates: azure, region: eastus, bucket: "file://./b/az" }
  - { name: nobucket, provider: aws, region: us-east-1 }
data:
${data}
`,
    'mcml.yaml',
  ).spec;

describe('planDataSets', () => {
  it('routes a data set to every target of its jurisdiction that has a bucket', () => {
    const [p] = planDataSets(spec('  - { name: d, source: ./src, jurisdiction: us }'), {
      specDir: '/proj',
      lookup,
    });
    expect(p).toMatchObject({
      source: 'file:///proj/src',
      routes: [
        { target: 'us-aws', destination: 's3://us-bucket/root/data/d/', jurisdiction: 'us' },
        {
          target: 'fake-az',
          destination: 'file:///proj/b/az/data/d/',
          jurisdiction: 'us',
          cloud: 'azure',
        },
      ],
    });
  });

  it('refuses an explicit target outside the jurisdiction, naming data set and bucket', () => {
    expect(() =>
      planDataSets(
        spec('  - { name: gdpr, source: ./src, jurisdiction: eu, targets: [eu-gcp, us-aws] }'),
        {
          specDir: '/proj',
          lookup,
        },
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'RESIDENCY_VIOLATION',
        message: expect.stringMatching(/"gdpr".*s3:\/\/us-bucket\/root/),
      }),
    );
  });

  it('refuses a bucket the cloud reports outside the jurisdiction', () => {
    const [p] = planDataSets(
      spec('  - { name: d, source: ./src, jurisdiction: us, targets: [us-aws] }'),
      {
        specDir: '/proj',
        lookup,
      },
    );
    expect(() =>
      checkReportedLocation({ name: 'd', jurisdiction: 'us' }, p!.routes[0]!, 'eu-west-1', lookup),
    ).toThrow(expect.objectContaining({ code: 'RESIDENCY_VIOLATION' }));
    expect(() =>
      checkReportedLocation({ name: 'd', jurisdiction: 'us' }, p!.routes[0]!, 'us-east-1', lookup),
    ).not.toThrow();
  });

  it('names the data sets when asked for an unknown one', () => {
    const s = spec('  - { name: d, source: ./src, jurisdiction: us }');
    expect(() => planDataSets(s, { specDir: '/p', lookup, dataset: 'x' })).toThrow(
      expect.objectContaining({ code: 'USAGE', hint: 'data sets: d' }),
    );
  });

  it('refuses a data set prefix that would leave the bucket (spec and planner)', () => {
    for (const prefix of ['../victim/', 'a/../../victim', '..']) {
      expect(() =>
        spec(`  - { name: d, source: ./src, jurisdiction: us, prefix: "${prefix}" }`),
      ).toThrow(expect.objectContaining({ code: 'SPEC_INVALID' }));
      const parsed = spec('  - { name: d, source: ./src, jurisdiction: us, prefix: ok/ }');
      // A spec object built in code (mcml up) skips the schema: the planner checks again.
      const hostile = { ...parsed, data: [{ ...parsed.data[0]!, prefix }] };
      expect(() => planDataSets(hostile, { specDir: '/proj', lookup }), prefix).toThrow(
        expect.objectContaining({
          code: 'SPEC_INVALID',
          message: expect.stringMatching(/data set "d": prefix .* would leave target/),
        }),
      );
    }
    const [p] = planDataSets(
      spec('  - { name: d, source: ./src, jurisdiction: us, prefix: "%2e%2e/v/" }'),
      { specDir: '/proj', lookup },
    );
    expect(p!.routes.map((r) => r.destination)).toEqual([
      's3://us-bucket/root/%252e%252e/v/',
      'file:///proj/b/az/%252e%252e/v/',
    ]);
  });

  it('fails closed on a reported location it cannot map, naming the spec region and the report', () => {
    const [p] = planDataSets(
      spec('  - { name: d, source: ./src, jurisdiction: us, targets: [us-aws] }'),
      { specDir: '/proj', lookup },
    );
    for (const reported of ['il-central-1', 'mars-north-1']) {
      expect(() =>
        checkReportedLocation({ name: 'd', jurisdiction: 'us' }, p!.routes[0]!, reported, lookup),
      ).toThrow(
        expect.objectContaining({
          code: 'RESIDENCY_VIOLATION',
          message: expect.stringMatching(
            new RegExp(
              `in us-east-1 \\(us\\), but the cloud reports .* in ${reported} \\(a region mcml cannot map`,
            ),
          ),
        }),
      );
    }
  });

  it('--jurisdiction on a direct sync: every destination must report a location inside it', () => {
    const s3 = { uri: 's3://b/p/', scheme: 's3' };
    expect(() => checkDestinationJurisdiction('eu', s3, 'eu-west-1', lookup)).not.toThrow();
    expect(() => checkDestinationJurisdiction('eu', s3, 'us-east-1', lookup)).toThrow(
      expect.objectContaining({ code: 'RESIDENCY_VIOLATION' }),
    );
    expect(() => checkDestinationJurisdiction('eu', s3, 'il-central-1', lookup)).toThrow(
      /il-central-1 \(a region mcml cannot map/,
    );
    const az = { uri: 'az://a/c/p/', scheme: 'az' };
    expect(() => checkDestinationJurisdiction('eu', az, undefined, lookup)).toThrow(
      /cannot report its location/,
    );
    const file = { uri: 'file:///x/', scheme: 'file' };
    expect(() => checkDestinationJurisdiction('eu', file, undefined, lookup)).not.toThrow();
  });
});
