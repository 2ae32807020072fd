/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON/YAML/HCL documents */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from '@cdktf/hcl2json';
import { render, type RenderResult } from '../../src/core/render/index.js';
import { readModules } from '../../src/engines/render/index.js';
import { checkModule, loadModule, type ModuleInfo } from './hcl-check.js';
import { examplePlan, loadSpec, threeCloudsPlan } from './fixtures.js';

const ALL_MODULES = [
  'aks',
  'azure-blob',
  'eks',
  'gcs-bucket',
  'gke',
  'route53-failover',
  's3-bucket',
];

async function moduleInfos(
  files: Record<string, string>,
): Promise<{ root: ModuleInfo; children: Map<string, ModuleInfo> }> {
  const byDir = new Map<string, Record<string, string>>();
  for (const [path, text] of Object.entries(files)) {
    if (!path.startsWith('terraform/') || !path.endsWith('.tf')) continue;
    const dir = dirname(path);
    byDir.set(dir, { ...byDir.get(dir), [path]: text });
  }
  const children = new Map<string, ModuleInfo>();
  for (const [dir, f] of byDir) {
    if (dir === 'terraform') continue;
    children.set(`./${dir.slice('terraform/'.length)}`, await loadModule(dir, f));
  }
  return { root: await loadModule('terraform', byDir.get('terraform') ?? {}), children };
}

async function renderWithModules(result: RenderResult): Promise<Record<string, string>> {
  return { ...result.files, ...(await readModules(result.modules)) };
}

/** Throws with the install command when terraform is not on PATH: never a silent skip. */
function requireTerraform(): void {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'terraform is missing: install Terraform >= 1.9 (https://developer.hashicorp.com/terraform/install, e.g. "apt-get install -y terraform" from the HashiCorp apt repository) or OpenTofu',
    );
  }
}

const spec = loadSpec('three-clouds.yaml');
/** The fixture with the AWS tier's endpoint unknown: its load balancer name becomes a variable. */
function withoutAwsEndpoint(): RenderResult {
  const s = loadSpec('three-clouds.yaml', (t) =>
    t.replace('    endpoint: https://aws.ml.example.com\n', ''),
  );
  return render(s, threeCloudsPlan(s));
}

const cases: [string, () => RenderResult][] = [
  ['fixture three-clouds', () => render(spec, threeCloudsPlan(spec))],
  ['fixture without an AWS endpoint', withoutAwsEndpoint],
  ['example three-clouds', () => examplePlan('three-clouds')],
  ['example residency', () => examplePlan('residency')],
];

describe('Terraform', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it.each(cases)('%s: module calls and references resolve (HCL parser)', async (_name, make) => {
    const files = await renderWithModules(make());
    const { root, children } = await moduleInfos(files);
    expect(root.modules.size).toBeGreaterThan(0);
    const problems = [
      checkModule(root, children),
      ...[...children.values()].map((c) => checkModule(c, new Map())),
    ].flat();
    expect(problems).toEqual([]);
  });

  it('the reference check catches an undeclared variable, a bad output and a missing required variable', async () => {
    const files = await renderWithModules(render(spec, threeCloudsPlan(spec)));
    files['terraform/main.tf'] = files['terraform/main.tf']!.replace(
      'bucket_prefix   = "ml-inference/"',
      'bucket_prefixx  = "ml-inference/"',
    )
      .replace('module.bucket_gcp_secondary.name', 'module.bucket_gcp_secondary.nam')
      .replace('var.gcp_project', 'var.gcp_projekt');
    const { root, children } = await moduleInfos(files);
    const problems = checkModule(root, children).join('\n');
    expect(problems).toMatch(/passes undeclared variable bucket_prefixx/);
    expect(problems).toMatch(/module\.bucket_gcp_secondary\.nam is not an output/);
    expect(problems).toMatch(/var\.gcp_projekt is not declared/);
    files['terraform/main.tf'] = files['terraform/main.tf'].replace(
      /\n {2}instance_types\s+= \["g4dn\.2xlarge"\]/,
      '',
    );
    const again = await moduleInfos(files);
    expect(checkModule(again.root, again.children).join('\n')).toMatch(
      /misses required variable instance_types/,
    );
  });

  it('a tier without a known host: a required variable, no dns/ files, a note', async () => {
    const r = withoutAwsEndpoint();
    const variables: any = await parse('variables.tf', r.files['terraform/variables.tf']!);
    expect(variables.variable.lb_host_aws_primary[0]).not.toHaveProperty('default');
    expect(r.files['terraform/dns.tf']).toContain('host     = var.lb_host_aws_primary');
    expect(Object.keys(r.files).filter((f) => f.startsWith('dns/'))).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/dns: aws-primary has no endpoint/);
    expect(r.files['terraform/terraform.tfvars.example']).toContain(
      '\nlb_host_aws_primary = "<load balancer DNS name or IPv4 of aws-primary>"',
    );
  });

  it('wires the plan into the modules: regions, instance types, GPUs, node counts, spot', async () => {
    const r = render(spec, threeCloudsPlan(spec));
    const main: any = await parse('main.tf', r.files['terraform/main.tf']!);
    const eks = main.module.cluster_aws_primary[0];
    expect(eks.instance_types).toEqual(['g4dn.2xlarge']);
    expect(eks.on_demand_nodes).toEqual({ min: 1, max: 1 });
    expect(eks.spot_nodes).toEqual({ min: 1, max: 9 });
    const gke = main.module.cluster_gcp_secondary[0];
    expect(gke).toMatchObject({
      region: 'us-central1',
      machine_type: 'n1-standard-8',
      accelerator_type: 'nvidia-tesla-t4',
      accelerator_count: 1,
    });
    expect(gke.on_demand_nodes).toEqual({ min: 2, max: 10 });
    const aks = main.module.cluster_azure_tertiary[0];
    expect(aks).toMatchObject({ location: 'eastus', vm_size: 'Standard_NC8as_T4_v3' });
    expect(aks.spot_nodes).toEqual({ min: 2, max: 10 });
    expect(aks.on_demand_nodes).toEqual({ min: 0, max: 0 });
    const providers: any = await parse('providers.tf', r.files['terraform/providers.tf']!);
    expect(providers.provider.aws.map((p: any) => p.region)).toContain('us-east-1');
    const variables: any = await parse('variables.tf', r.files['terraform/variables.tf']!);
    expect(Object.keys(variables.variable)).toEqual(
      expect.arrayContaining(['gcp_project', 'azure_subscription_id', 'kubernetes_version']),
    );
    expect(variables.variable.kubernetes_version[0].default).toBe('1.34');
  });

  it('pins providers and uses current Kubernetes, spot, labels, taints and least-privilege identity', async () => {
    const modules = await readModules(ALL_MODULES);
    const text = (m: string) =>
      Object.entries(modules)
        .filter(([p]) => p.includes(`/modules/${m}/`))
        .map(([, t]) => t)
        .join('\n');
    const versions: any = await parse(
      'versions.tf',
      render(spec, threeCloudsPlan(spec)).files['terraform/versions.tf']!,
    );
    const rp = versions.terraform[0].required_providers[0];
    expect(rp.aws.version).toBe('~> 6.0');
    expect(rp.google.version).toBe('~> 7.0');
    expect(rp.azurerm.version).toBe('~> 4.0');
    expect(rp.helm.version).toBe('~> 3.0');
    for (const m of ALL_MODULES) expect(text(m)).toMatch(/version = "~> \d+\.0"/);
    expect(Object.values(modules).join('\n')).not.toMatch(/1\.2[0-9]"/);
    expect(text('eks')).toMatch(/capacity_type\s+= each\.key == "spot" \? "SPOT" : "ON_DEMAND"/);
    expect(text('eks')).toMatch(/effect = "NO_SCHEDULE"/);
    expect(text('eks')).toMatch(/"s3:GetObject"/);
    expect(text('eks')).not.toMatch(/s3:\*/);
    expect(text('gke')).toMatch(/spot\s+= each\.key == "spot"/);
    expect(text('gke')).toMatch(/roles\/storage\.objectViewer/);
    expect(text('gke')).toMatch(/workload_pool = "\$\{var\.project\}\.svc\.id\.goog"/);
    expect(text('aks')).toMatch(/priority\s+= each\.key == "spot" \? "Spot" : "Regular"/);
    expect(text('aks')).toMatch(/spot_max_price\s+= each\.key == "spot" \? -1 : null/);
    expect(text('aks')).toMatch(
      /node_taints = local\.gpu \? \["nvidia\.com\/gpu=true:NoSchedule"\]/,
    );
    expect(text('aks')).toMatch(/Storage Blob Data Reader/);
    for (const m of ['eks', 'gke', 'aks']) expect(text(m)).toMatch(/workload = "ml"/);
  });

  it('rendered files and modules pass terraform fmt -check', () => {
    requireTerraform();
    const dir = mkdtempSync(join(tmpdir(), 'mcml-tf-'));
    dirs.push(dir);
    const r = render(spec, threeCloudsPlan(spec));
    for (const [path, content] of Object.entries(r.files)) {
      if (!path.endsWith('.tf')) continue;
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    execFileSync('terraform', ['fmt', '-check', '-recursive', join(dir, 'terraform')], {
      stdio: 'pipe',
    });
    execFileSync('terraform', ['fmt', '-check', '-recursive', 'terraform/modules'], {
      stdio: 'pipe',
    });
    expect(readFileSync(join(dir, 'terraform/main.tf'), 'utf8')).toContain(
      'module "cluster_aws_primary"',
    );
  });
});
