import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import type { Placement, Plan } from '../plan/types.js';
import { parseSpec } from '../spec/parse.js';
import { render } from './index.js';
import { nodeBounds } from './terraform.js';

const spec = parseSpec(
  [
    'service:',
    '  name: svc',
    '  model: { uri: models/m.onnx }',
    '  resources: { cpu: 2, memory: 4Gi }',
    '  replicas: { min: 1, max: 4 }',
    'targets:',
    '  - { name: a, provider: aws, region: eu-west-1, spot: true, onDemandFloor: 1 }',
    '  - { name: l, provider: local, region: local }',
  ].join('\n'),
  'spec.yaml',
).spec;

function placement(p: Partial<Placement>): Placement {
  return {
    target: 'a',
    provider: 'aws',
    cloud: 'aws',
    region: 'eu-west-1',
    jurisdiction: 'eu',
    continent: 'europe',
    tier: 1,
    instanceType: 'm6i.large',
    vcpus: 2,
    memoryGiB: 8,
    replicas: { min: 1, max: 4, onDemand: 1, spot: 0 },
    capacity: 'mixed',
    unitPrice: { onDemand: 0.1 },
    hourly: 0.1,
    monthly: 73,
    hourlyAtMax: 0.4,
    weight: 100,
    dataSets: [],
    reasons: [],
    ...p,
  } as Placement;
}

function plan(placements: Placement[]): Plan {
  return {
    service: 'svc',
    strategy: 'high-availability',
    placements,
    data: [],
    totals: { hourly: 0, monthly: 0, hourlyAtMax: 0, dataTransferOneTime: 0 },
    comparison: [],
    reasons: [],
    warnings: [],
  };
}

describe('render', () => {
  it('refuses a plan with errors, listing every problem', () => {
    const bad = plan([
      placement({ replicas: { min: 3, max: 2, onDemand: 1, spot: 1 } }),
      placement({ target: 'ghost', instanceType: '' }),
    ]);
    let error: unknown;
    try {
      render(spec, { ...bad, service: 'other' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(McmlError);
    const e = error as McmlError;
    expect(e.code).toBe('PLAN_INFEASIBLE');
    expect(e.issues.map((i) => i.path)).toEqual([
      'plan.service',
      'plan.placements[0].replicas',
      'plan.placements[0].replicas',
      'plan.placements[1].target',
      'plan.placements[1].instanceType',
    ]);
  });

  it('refuses a plan with only local targets', () => {
    const local = placement({ target: 'l', provider: 'local', cloud: 'aws', region: 'local' });
    expect(() => render(spec, plan([local]))).toThrow(/nothing to render: every target is local/);
  });

  it('CPU-only services get no GPU taint toleration, no GPU resources and no device plugin', () => {
    const r = render(
      spec,
      plan([
        placement({}),
        placement({ target: 'l', provider: 'local', cloud: 'aws', region: 'local', tier: 2 }),
      ]),
    );
    expect(r.files['k8s/base/deployment.yaml']).not.toMatch(/nvidia/);
    expect(r.files['terraform/aws-addons/main.tf']).not.toMatch(/nvidia/);
    expect(r.files['terraform/aws-addons/main.tf']).toMatch(/helm_release" "cluster_autoscaler_a"/);
    expect(r.files['terraform/aws/main.tf']).toMatch(/gpu_count\s+= 0/);
    expect(Object.keys(r.files).filter((f) => f.includes('overlays/l/'))).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/local target l: run by "mcml up"/);
  });

  it('lowers requests to what the node can allocate when a replica would not fit', () => {
    const r = render(spec, plan([placement({ vcpus: 2, memoryGiB: 4 })]));
    // 2 vCPU: 70m reserved + 300m daemon sets; 4 GiB: 1024 + 100 Mi reserved + 600 Mi.
    expect(r.warnings.join('\n')).toMatch(
      /a: m6i\.large \(2 vCPU \/ 4 GiB\) has about 1\.63 vCPU \/ 2368 Mi allocatable/,
    );
    expect(r.files['k8s/overlays/a/deployment-patch.yaml']).toMatch(
      /requests:\n\s+cpu: 1630m\n\s+memory: 2368Mi/,
    );
    const roomy = render(spec, plan([placement({ vcpus: 8, memoryGiB: 32 })]));
    expect(roomy.files['k8s/overlays/a/deployment-patch.yaml']).not.toMatch(/requests/);
  });

  it('refuses a bucket in another cloud than its target', () => {
    expect(() => render(spec, plan([placement({ bucket: 'gs://x' })]))).toThrow(
      /runs on aws but its bucket gs:\/\/x is on gcp/,
    );
  });
});

describe('nodeBounds', () => {
  const t = (p: Partial<Placement>) => nodeBounds({ placement: placement(p) } as never);
  it('on-demand: one pool from min to max', () => {
    expect(
      t({ capacity: 'on-demand', replicas: { min: 2, max: 10, onDemand: 2, spot: 0 } }),
    ).toEqual({
      onDemand: { min: 2, max: 10 },
      spot: { min: 0, max: 0 },
    });
  });
  it('mixed: an on-demand floor and spot for the rest up to max', () => {
    expect(t({ capacity: 'mixed', replicas: { min: 2, max: 10, onDemand: 1, spot: 1 } })).toEqual({
      onDemand: { min: 1, max: 1 },
      spot: { min: 1, max: 9 },
    });
  });
  it('all spot: no on-demand pool', () => {
    expect(t({ capacity: 'spot', replicas: { min: 2, max: 10, onDemand: 0, spot: 2 } })).toEqual({
      onDemand: { min: 0, max: 0 },
      spot: { min: 2, max: 10 },
    });
  });
});
