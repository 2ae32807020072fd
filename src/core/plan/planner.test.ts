import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../catalog/parse.js';
import { McmlError } from '../errors.js';
import { parseSpec } from '../spec/parse.js';
import { STARTER_SPEC } from '../spec/starter.js';
import { egressCost, plan, planDocument } from './planner.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const catalogRoot = join(repo, 'data/catalog');
const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : name.endsWith('.csv') ? [full] : [];
  });
const catalog = parseCatalog(
  walk(catalogRoot).map((full) => ({
    path: relative(catalogRoot, full),
    text: readFileSync(full, 'utf8'),
  })),
);
const example = (name: string) =>
  parseSpec(readFileSync(join(repo, 'examples', name, 'mcml.yaml'), 'utf8'), `${name}.yaml`);

function failure(fn: () => unknown): McmlError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(McmlError);
    return error as McmlError;
  }
  throw new Error('expected an McmlError');
}

const spec = (
  targets: string,
  extra = '',
  resources = '{cpu: 4, memory: 16Gi, gpu: {model: T4}}',
) =>
  parseSpec(
    `service:
  name: demo
  model: {uri: models/iris.onnx}
  resources: ${resources}
  replicas: {min: 2, max: 4}
targets:
${targets}
${extra}`,
    'spec.yaml',
  );

describe('plan on the shipped catalog', () => {
  it('places the three-cloud example on the expected offerings with costs', () => {
    const p = planDocument(example('three-clouds'), catalog);
    expect(p.placements.map((x) => [x.tier, x.target, x.instanceType, x.gpu?.cloudName])).toEqual([
      [1, 'aws-use1', 'g4dn.xlarge', 'T4'],
      [2, 'gcp-usc1', 'n1-standard-8', 'nvidia-tesla-t4'],
      [3, 'azure-eus', 'Standard_NC4as_T4_v3', 'T4'],
    ]);
    const aws = p.placements[0]!;
    // 1 on-demand (floor) at 0.526 + 1 spot at 0.1845.
    expect(aws.replicas).toEqual({ min: 2, max: 10, onDemand: 1, spot: 1 });
    expect(aws.capacity).toBe('mixed');
    expect(aws.hourly).toBeCloseTo(0.7105, 6);
    expect(aws.monthly).toBe(518.67);
    // n1-standard-8 (0.38) + T4 (0.35), 2 replicas.
    expect(p.placements[1]!.hourly).toBeCloseTo(1.46, 6);
    expect(p.totals.hourly).toBeCloseTo(0.7105 + 1.46 + 1.052, 6);
    expect(p.totals.monthly).toBe(2352.43);
    expect(p.budget).toEqual({ limit: 5000, monthly: 2352.43, share: 0.4705, verdict: 'within' });
    // 50 GB from S3: inter-region to AWS, internet (0.09) to GCP and Azure.
    expect(p.data.map((d) => [d.to, d.kind, d.cost])).toEqual([
      ['aws-use1', 'inter-region', 1],
      ['gcp-usc1', 'internet', 4.5],
      ['azure-eus', 'internet', 4.5],
    ]);
    expect(p.comparison.map((c) => [c.cloud, c.region, c.instanceType, c.monthly])).toEqual([
      ['aws', 'us-east-1', 'g4dn.xlarge', 767.96],
      ['gcp', 'us-central1', 'n1-standard-8', 1065.8],
      ['azure', 'eastus', 'Standard_NC4as_T4_v3', 767.96],
    ]);
    expect(p.warnings).toEqual([]);
  });

  it('places every example and the mcml init starter on current offerings', () => {
    const docs = ['three-clouds', 'residency', 'local'].map(example);
    docs.push(parseSpec(STARTER_SPEC, 'mcml.yaml'));
    for (const doc of docs) {
      const p = planDocument(doc, catalog);
      for (const placement of p.placements) {
        const offering = catalog.offerings.find(
          (o) =>
            o.cloud === placement.cloud &&
            o.region === placement.region &&
            o.instanceType === placement.instanceType,
        );
        if (placement.cloud !== 'local') expect(offering?.lifecycle.status).toBe('available');
      }
    }
  });

  it('is deterministic', () => {
    const a = JSON.stringify(planDocument(example('residency'), catalog));
    const b = JSON.stringify(planDocument(example('residency'), catalog));
    expect(a).toBe(b);
  });

  it('keeps each residency data set inside its jurisdiction', () => {
    const p = planDocument(example('residency'), catalog);
    expect(p.placements.map((x) => [x.target, x.jurisdiction])).toEqual([
      ['gcp-euw1', 'eu'],
      ['aws-use1', 'us'],
      ['azure-sea', 'asia'],
    ]);
    expect(p.data.map((d) => [d.dataSet, d.to])).toEqual([
      ['eu-customers', 'gcp-euw1'],
      ['us-customers', 'aws-use1'],
      ['asia-customers', 'azure-sea'],
    ]);
  });

  it('prices local targets as the cloud they emulate', () => {
    const p = planDocument(example('local'), catalog);
    expect(p.placements.map((x) => [x.provider, x.cloud, x.jurisdiction, x.instanceType])).toEqual([
      ['local', 'aws', 'us', 't3.medium'],
      ['local', 'gcp', 'us', 'n1-standard-1'],
      ['local', 'azure', 'us', 'Standard_F2s_v2'],
    ]);
    expect(p.data.map((d) => [d.to, d.kind, d.cost])).toEqual([
      ['local-aws', 'none', 0],
      ['local-gcp', 'none', 0],
      ['local-azure', 'none', 0],
    ]);
  });

  it('makes a local target without emulates free and labelled local', () => {
    const doc = spec(
      '  - {name: here, provider: local, region: laptop}\n  - {name: a, provider: aws, region: us-east-1}',
      'strategy: {type: high-availability, minClouds: 1}',
      '{cpu: 1, memory: 1Gi}',
    );
    const p = planDocument(doc, catalog);
    expect(p.placements[0]).toMatchObject({
      target: 'here',
      cloud: 'local',
      jurisdiction: 'local',
      hourly: 0,
      monthly: 0,
      priceSource: 'local',
    });
    expect(p.placements[1]!.instanceType).toBe('t3.medium');
    const gpu = planDocument(
      spec(
        '  - {name: here, provider: local, region: laptop}\n  - {name: a, provider: aws, region: us-east-1}',
        'strategy: {type: high-availability, minClouds: 1}',
      ),
      catalog,
    );
    expect(gpu.warnings).toEqual([
      'target here is local without "emulates": it runs the 1×T4 service on this machine\'s CPU',
    ]);
  });
});

describe('plan errors', () => {
  it('says which regions have the GPU when a region has none', () => {
    const e = failure(() =>
      planDocument(
        spec(
          '  - {name: g, provider: gcp, region: europe-west1}',
          'strategy: {type: cost}',
          '{cpu: 4, memory: 16Gi, gpu: {model: V100}}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toBe(
      'no V100 offering in europe-west1 on gcp; regions with V100 on gcp: us-central1, europe-west4',
    );
    expect(e.issues[0]!.path).toBe('spec.yaml:7:38 targets[0].region');
    expect(e.issues[0]!.hint).toBe('GPU models on gcp in europe-west1: L4, T4, P100');
  });

  it('names the largest offering when the resources are too big', () => {
    const doc = spec(
      '  - {name: a, provider: aws, region: us-east-1}',
      'strategy: {type: cost}',
      '{cpu: 96, memory: 16Gi, gpu: {model: T4}}',
    );
    const e = failure(() => planDocument(doc, catalog));
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toMatch(
      /largest T4 offering there is g4dn\.12xlarge \(4×T4, 48 vCPU, 192 GiB\)/,
    );
  });

  it('rejects an unknown region with a suggestion and the position', () => {
    const e = failure(() =>
      planDocument(
        spec('  - {name: a, provider: aws, region: us-east-l}', 'strategy: {type: cost}'),
        catalog,
      ),
    );
    expect(e.code).toBe('SPEC_INVALID');
    expect(e.issues[0]).toMatchObject({
      path: 'spec.yaml:7:38 targets[0].region',
      message: 'unknown aws region "us-east-l"',
      hint: 'did you mean "us-east-1"?',
    });
  });

  it('says when a region belongs to another cloud', () => {
    const e = failure(() =>
      plan(
        spec('  - {name: a, provider: aws, region: us-central1}', 'strategy: {type: cost}').spec,
        catalog,
      ),
    );
    expect(e.issues[0]!.message).toBe('unknown aws region "us-central1": it is a gcp region');
    expect(e.issues[0]!.path).toBe('targets[0].region');
  });

  it('rejects unknown and misplaced pinned instance types', () => {
    const typo = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: us-east-1, overrides: {instanceType: g4dn.xlarg}}',
          'strategy: {type: cost}',
        ),
        catalog,
      ),
    );
    expect(typo.issues[0]).toMatchObject({
      message: 'unknown aws instance type "g4dn.xlarg"',
      hint: 'did you mean "g4dn.xlarge"?',
    });
    const elsewhere = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: ap-southeast-1, overrides: {instanceType: g6.xlarge}}',
          'strategy: {type: cost}',
        ),
        catalog,
      ),
    );
    expect(elsewhere.issues[0]).toMatchObject({
      message: 'aws does not offer g6.xlarge in ap-southeast-1',
      hint: 'regions with g6.xlarge: us-east-1, us-west-2',
    });
    const tooSmall = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: us-east-1, overrides: {instanceType: m5.large}}',
          'strategy: {type: cost}',
        ),
        catalog,
      ),
    );
    expect(tooSmall.code).toBe('PLAN_INFEASIBLE');
    expect(tooSmall.message).toMatch(/^m5\.large in us-east-1 on aws does not fit the service/);
  });

  it('enforces minClouds for high-availability', () => {
    const e = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: us-east-1}\n  - {name: b, provider: aws, region: us-west-2}',
          'strategy: {type: high-availability, minClouds: 2}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toMatch(/at least 2 clouds \(minClouds\), the spec has 1: aws/);
    expect(e.hint).toBe('add a target on gcp or azure, or lower strategy.minClouds');
  });

  it('refuses to send a data set outside its jurisdiction', () => {
    const targets =
      '  - {name: eu, provider: gcp, region: europe-west4}\n  - {name: us, provider: aws, region: us-east-1}';
    const e = failure(() =>
      planDocument(
        spec(
          targets,
          'strategy: {type: residency}\ndata:\n  - {name: d, source: gs://b/d, jurisdiction: eu, targets: [eu, us]}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('RESIDENCY_VIOLATION');
    expect(e.message).toBe('data set "d" is pinned to eu but target "us" is in us (aws us-east-1)');
    expect(e.issues[0]!.path).toMatch(/^spec\.yaml:11:\d+ data\[0\]\.targets\[1\]$/);
    // strict: false lets it through with a warning.
    const loose = planDocument(
      spec(
        targets,
        'strategy: {type: residency, strict: false}\ndata:\n  - {name: d, source: gs://b/d, jurisdiction: eu, targets: [eu, us]}',
      ),
      catalog,
    );
    expect(loose.data.map((d) => d.to)).toEqual(['eu', 'us']);
    expect(loose.warnings[0]).toMatch(/allowed because strategy.strict is false/);
  });

  it('fails residency when a data set has no target in its jurisdiction', () => {
    const e = failure(() =>
      planDocument(
        spec(
          '  - {name: us, provider: aws, region: us-east-1}',
          'strategy: {type: residency}\ndata:\n  - {name: d, source: gs://b/d, jurisdiction: asia}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toBe(
      'data set "d" is pinned to asia but no target is in asia (targets are in: us)',
    );
  });
});

describe('strategies', () => {
  const three =
    '  - {name: a, provider: aws, region: us-east-1, tier: 1, spot: true, onDemandFloor: 0}\n' +
    '  - {name: g, provider: gcp, region: us-central1, tier: 2, spot: true, onDemandFloor: 0}\n' +
    '  - {name: z, provider: azure, region: eastus, tier: 3, spot: true, onDemandFloor: 0}';

  it('cost: orders by price and keeps maxTargets', () => {
    const p = planDocument(spec(three, 'strategy: {type: cost, maxTargets: 2}'), catalog);
    // All spot: azure 0.0627, aws 0.1845, gcp 0.2363 per node.
    expect(p.placements.map((x) => [x.tier, x.target, x.capacity])).toEqual([
      [1, 'z', 'spot'],
      [2, 'a', 'spot'],
    ]);
    expect(p.dropped).toEqual([
      { target: 'g', reason: 'strategy cost keeps the 2 cheapest targets (maxTargets)' },
    ]);
  });

  it('best-of-breed: spot only on the spot cloud, serving cloud first, prefer honoured', () => {
    const p = planDocument(spec(three, 'strategy: {type: best-of-breed}'), catalog);
    // Cheapest on-demand node: aws g4dn.xlarge at 0.526 (azure ties; aws is listed first) →
    // serving; cheapest spot: azure.
    expect(p.placements.map((x) => [x.target, x.capacity])).toEqual([
      ['a', 'on-demand'],
      ['z', 'spot'],
      ['g', 'on-demand'],
    ]);
    const preferred = planDocument(
      spec(three, 'strategy: {type: best-of-breed, prefer: {serving: azure, spot: aws}}'),
      catalog,
    );
    expect(preferred.placements.map((x) => [x.target, x.capacity])).toEqual([
      ['z', 'on-demand'],
      ['a', 'spot'],
      ['g', 'on-demand'],
    ]);
    const bad = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: us-east-1}',
          'strategy: {type: best-of-breed, prefer: {data: gcp}}',
        ),
        catalog,
      ),
    );
    expect(bad.code).toBe('SPEC_INVALID');
    expect(bad.issues[0]!.message).toBe('prefer.data is gcp, but no target runs on gcp');
  });

  it('high-availability: warns when adjacent tiers share a cloud', () => {
    const p = planDocument(
      spec(
        '  - {name: a, provider: aws, region: us-east-1}\n  - {name: b, provider: aws, region: us-west-2}\n  - {name: g, provider: gcp, region: us-central1}',
      ),
      catalog,
    );
    expect(p.warnings[0]).toMatch(/tiers 1 and 2 \(a, b\) are both on aws/);
  });

  it('budget verdicts: within, warn, over', () => {
    const t = '  - {name: a, provider: aws, region: us-east-1}';
    const s = 'strategy: {type: cost}\nbudget: {monthly: ';
    // 2 × 0.526 × 730 = 767.96
    expect(planDocument(spec(t, `${s}2000}`), catalog).budget?.verdict).toBe('within');
    expect(planDocument(spec(t, `${s}900}`), catalog).budget?.verdict).toBe('warn');
    expect(planDocument(spec(t, `${s}700}`), catalog).budget?.verdict).toBe('over');
  });
});

describe('offering lifecycle', () => {
  it('never places a target on a retired offering: V100 on Azure names the closest current ones', () => {
    const e = failure(() =>
      planDocument(
        spec(
          '  - {name: z, provider: azure, region: eastus}',
          'strategy: {type: cost}',
          '{cpu: 4, memory: 16Gi, gpu: {model: V100}}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toBe(
      'no current azure offering in eastus has 1×V100: Standard_NC6s_v3, Standard_NC12s_v3, Standard_NC24s_v3 were retired on 2025-09-30 (azure-ncv3-retirement) and can no longer be created',
    );
    expect(e.issues[0]!.path).toBe('spec.yaml:7:40 targets[0].region');
    const hint = e.issues[0]!.hint!;
    expect(hint).toMatch(
      /^closest current offerings in eastus: Standard_NC24ads_A100_v4 \(1×A100-80GB, 24 vCPU, 220 GiB\) at \$3\.67\/h \(the provider's successor\); Standard_NV36ads_A10_v5 /,
    );
    expect(hint).toMatch(/Standard_NC4as_T4_v3/);
    expect(hint).toMatch(/clouds with a current 1×V100: gcp/);
  });

  it('a pinned retired instance type is refused at overrides.instanceType', () => {
    const e = failure(() =>
      planDocument(
        spec(
          '  - {name: a, provider: aws, region: us-east-1, overrides: {instanceType: p3.2xlarge}}',
          'strategy: {type: cost}',
          '{cpu: 4, memory: 16Gi, gpu: {model: V100}}',
        ),
        catalog,
      ),
    );
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.message).toBe(
      'p3.2xlarge in us-east-1 on aws was retired on 2026-05-25 (aws-p3-unlisted): it can no longer be created',
    );
    expect(e.issues[0]!.path).toMatch(/targets\[0\]\.overrides\.instanceType$/);
    expect(e.issues[0]!.hint).toMatch(
      /^closest current offerings in us-east-1: g5\.2xlarge .*successor/,
    );
  });

  it('the per-cloud comparison leaves retired offerings out', () => {
    const p = planDocument(
      spec(
        '  - {name: g, provider: gcp, region: us-central1}',
        'strategy: {type: cost}',
        '{cpu: 4, memory: 16Gi, gpu: {model: V100}}',
      ),
      catalog,
    );
    expect(p.comparison.map((c) => [c.cloud, c.unavailable ?? c.instanceType])).toEqual([
      ['aws', 'no aws offering in the catalog fits 1×V100, 4 vCPU, 16 GiB'],
      ['gcp', 'n1-standard-8'],
      ['azure', 'no azure offering in the catalog fits 1×V100, 4 vCPU, 16 GiB'],
    ]);
  });

  it('places a retiring offering with a warning, and not once its date has come', () => {
    const files = walk(catalogRoot).map((full) => {
      const path = relative(catalogRoot, full);
      let text = readFileSync(full, 'utf8');
      if (path === 'azure/vms.csv') {
        text = text.replace(
          /^(Standard_NC4as_T4_v3,.*,eastus,,prices\.md),available,,azure-current-2026-12,$/m,
          '$1,retiring,2027-03-31,https://example.com/nc-t4-notice,Standard_NC8as_T4_v3',
        );
      }
      return { path, text };
    });
    const doc = spec('  - {name: z, provider: azure, region: eastus}', 'strategy: {type: cost}');
    const before = planDocument(doc, parseCatalog(files, { today: '2027-03-30' }));
    expect(before.placements[0]!.instanceType).toBe('Standard_NC4as_T4_v3');
    expect(before.warnings).toEqual([
      'target z: Standard_NC4as_T4_v3 is retiring on 2027-03-31 (https://example.com/nc-t4-notice); the provider recommends Standard_NC8as_T4_v3: plan the move before then',
    ]);
    const after = planDocument(doc, parseCatalog(files, { today: '2027-03-31' }));
    expect(after.placements[0]!.instanceType).toBe('Standard_NC8as_T4_v3');
  });
});

describe('egressCost', () => {
  it('walks the tiers from the volume already sent', () => {
    // AWS internet: 0.09 up to 10 TB, then 0.085.
    expect(egressCost(catalog, 'aws', 'internet', 0, 100)).toBeCloseTo(9, 9);
    expect(egressCost(catalog, 'aws', 'internet', 10_000, 1_000)).toBeCloseTo(
      240 * 0.09 + 760 * 0.085,
      9,
    );
    expect(egressCost(catalog, 'gcp', 'inter-region', 0, 100)).toBeCloseTo(1, 9);
  });
});
