/** Hand-built spec + plan fixtures for render tests (independent of the planner). */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSpec } from '../../src/core/spec/index.js';
import type { Spec } from '../../src/core/spec/index.js';
import type { Placement, Plan } from '../../src/core/plan/types.js';
import { planDocument } from '../../src/core/plan/planner.js';
import { parseCatalog, type Catalog, type CatalogFile } from '../../src/core/catalog/index.js';
import { render, type RenderResult } from '../../src/core/render/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/render/', import.meta.url));
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function loadSpec(name: string, edit?: (text: string) => string): Spec {
  let text = readFileSync(`${FIXTURES}${name}`, 'utf8');
  if (edit) text = edit(text);
  return parseSpec(text, name).spec;
}

function placement(
  p: Partial<Placement> &
    Pick<Placement, 'target' | 'provider' | 'cloud' | 'region' | 'tier' | 'instanceType'>,
): Placement {
  return {
    jurisdiction: 'us',
    continent: 'north-america',
    vcpus: 8,
    memoryGiB: 61,
    replicas: { min: 2, max: 10, onDemand: 2, spot: 0 },
    capacity: 'on-demand',
    unitPrice: { onDemand: 3.06 },
    hourly: 6.12,
    monthly: 4467.6,
    hourlyAtMax: 30.6,
    weight: 100,
    dataSets: [],
    reasons: ['fixture'],
    ...p,
  };
}

/** The plan a planner would make for three-clouds.yaml (T4 on each cloud). */
export function threeCloudsPlan(spec: Spec): Plan {
  const byName = (n: string) => spec.targets.find((t) => t.name === n)!;
  const withTarget = (name: string) => {
    const t = byName(name);
    return {
      ...(t.bucket === undefined ? {} : { bucket: t.bucket }),
      ...(t.endpoint === undefined ? {} : { endpoint: t.endpoint }),
      ...(t.context === undefined ? {} : { context: t.context }),
    };
  };
  return {
    service: spec.service.name,
    strategy: 'high-availability',
    placements: [
      placement({
        target: 'aws-primary',
        provider: 'aws',
        cloud: 'aws',
        region: 'us-east-1',
        tier: 1,
        instanceType: 'g4dn.2xlarge',
        memoryGiB: 32,
        gpu: { model: 'T4', count: 1, cloudName: 'T4' },
        replicas: { min: 2, max: 10, onDemand: 1, spot: 1 },
        capacity: 'mixed',
        unitPrice: { onDemand: 0.752, spot: 0.2637 },
        ...withTarget('aws-primary'),
      }),
      placement({
        target: 'gcp-secondary',
        provider: 'gcp',
        cloud: 'gcp',
        region: 'us-central1',
        zone: 'us-central1-a',
        tier: 2,
        instanceType: 'n1-standard-8',
        vcpus: 8,
        memoryGiB: 30,
        gpu: { model: 'T4', count: 1, cloudName: 'nvidia-tesla-t4' },
        unitPrice: { onDemand: 0.73 },
        ...withTarget('gcp-secondary'),
      }),
      placement({
        target: 'azure-tertiary',
        provider: 'azure',
        cloud: 'azure',
        region: 'eastus',
        tier: 3,
        instanceType: 'Standard_NC8as_T4_v3',
        vcpus: 8,
        memoryGiB: 56,
        gpu: { model: 'T4', count: 1, cloudName: 'T4' },
        replicas: { min: 2, max: 10, onDemand: 0, spot: 2 },
        capacity: 'spot',
        unitPrice: { onDemand: 0.752, spot: 0.0896 },
        ...withTarget('azure-tertiary'),
      }),
    ],
    data: [],
    totals: { hourly: 15, monthly: 10950, hourlyAtMax: 80, dataTransferOneTime: 0 },
    comparison: [],
    reasons: [],
    warnings: [],
  };
}

/** Renders an example (examples/<name>/mcml.yaml) with the real planner and catalog. */
export function examplePlan(name: string): RenderResult {
  const file = `${REPO}examples/${name}/mcml.yaml`;
  const doc = parseSpec(readFileSync(file, 'utf8'), `examples/${name}/mcml.yaml`);
  return render(doc.spec, planDocument(doc, catalogSync()));
}

let catalog: Catalog | undefined;
/** The shipped catalog, parsed once. */
export function catalogSync(): Catalog {
  if (catalog) return catalog;
  const root = `${REPO}data/catalog/`;
  const files: CatalogFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(`${root}${dir}`, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.csv'))
        files.push({ path: rel, text: readFileSync(`${root}${rel}`, 'utf8') });
    }
  };
  walk('');
  catalog = parseCatalog(files, { dir: 'data/catalog/' });
  return catalog;
}
