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

/** Every root (terraform/<root>/) and module (terraform/modules/<name>/), parsed. */
async function moduleInfos(
  files: Record<string, string>,
): Promise<{ roots: Map<string, ModuleInfo>; children: Map<string, ModuleInfo> }> {
  const byDir = new Map<string, Record<string, string>>();
  for (const [path, text] of Object.entries(files)) {
    if (!path.startsWith('terraform/') || !path.endsWith('.tf')) continue;
    const dir = dirname(path);
    byDir.set(dir, { ...byDir.get(dir), [path]: text });
  }
  const children = new Map<string, ModuleInfo>();
  const roots = new Map<string, ModuleInfo>();
  for (const [dir, f] of byDir) {
    if (dir.startsWith('terraform/modules/')) {
      children.set(`../${dir.slice('terraform/'.length)}`, await loadModule(dir, f));
    } else roots.set(dir.slice('terraform/'.length), await loadModule(dir, f));
  }
  return { roots, children };
}

function problemsOf(infos: {
  roots: Map<string, ModuleInfo>;
  children: Map<string, ModuleInfo>;
}): string[] {
  return [
    ...[...infos.roots.values()].flatMap((r) => checkModule(r, infos.children)),
    ...[...infos.children.values()].map((c) => checkModule(c, new Map())),
  ].flat();
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
const PRIVATE_API = `infra:
  apiAccess:
    private: true
    authorizedCidrs: [10.99.0.0/16]
`;
const S3_STATE = `  state:
    backend: s3
    bucket: acme-tf-state
    region: eu-west-1
`;
/** The fixture with `infra:` added to it. */
function withInfra(infra: string): RenderResult {
  const s = loadSpec('three-clouds.yaml', (t) => `${t}infra:\n${infra}`);
  return render(s, threeCloudsPlan(s));
}
const parsed = (r: RenderResult, path: string): Promise<any> => parse(path, r.files[path]!);
const CLOUD_ROOTS = ['aws', 'gcp', 'azure'];
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
    const infos = await moduleInfos(files);
    expect(infos.roots.get('aws')!.modules.size).toBeGreaterThan(0);
    expect(problemsOf(infos)).toEqual([]);
  });

  it('the reference check catches an undeclared variable, a bad output and a missing required variable', async () => {
    const files = await renderWithModules(render(spec, threeCloudsPlan(spec)));
    files['terraform/aws/main.tf'] = files['terraform/aws/main.tf']!.replace(
      'bucket_prefix        = "ml-inference/"',
      'bucket_prefixx       = "ml-inference/"',
    );
    files['terraform/gcp/main.tf'] = files['terraform/gcp/main.tf']!.replace(
      'module.bucket_gcp_secondary.name',
      'module.bucket_gcp_secondary.nam',
    ).replace('var.gcp_project', 'var.gcp_projekt');
    const problems = problemsOf(await moduleInfos(files)).join('\n');
    expect(problems).toMatch(/passes undeclared variable bucket_prefixx/);
    expect(problems).toMatch(/module\.bucket_gcp_secondary\.nam is not an output/);
    expect(problems).toMatch(/var\.gcp_projekt is not declared/);
    files['terraform/aws/main.tf'] = files['terraform/aws/main.tf'].replace(
      /\n {2}instance_types\s+= \["g4dn\.2xlarge"\]/,
      '',
    );
    expect(problemsOf(await moduleInfos(files)).join('\n')).toMatch(
      /misses required variable instance_types/,
    );
  });

  it('a tier without a known host: a required variable, no dns/ files, a note', async () => {
    // Without a front door (dns mode) the tiers are the services: aws-primary's is unknown.
    const direct = loadSpec('three-clouds.yaml', (t) =>
      t
        .replace('    endpoint: https://aws.ml.example.com\n', '')
        .replace('mode: both', 'mode: dns'),
    );
    const r = render(direct, threeCloudsPlan(direct));
    const variables: any = await parse('variables.tf', r.files['terraform/dns/variables.tf']!);
    expect(variables.variable.lb_host_aws_primary[0]).not.toHaveProperty('default');
    expect(r.files['terraform/dns/main.tf']).toContain('host     = var.lb_host_aws_primary');
    expect(Object.keys(r.files).filter((f) => f.startsWith('dns/'))).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/dns: aws-primary has no endpoint/);
    expect(r.files['terraform/dns/terraform.tfvars.example']).toContain(
      '\nlb_host_aws_primary = "<DNS name or IPv4 of the service\'s load balancer in aws-primary>"',
    );
    // The cloud roots never wait for a load balancer: nothing of theirs needs one.
    for (const root of ['aws', 'gcp', 'azure']) {
      expect(r.files[`terraform/${root}/terraform.tfvars.example`]).not.toMatch(/lb_host/);
    }
  });

  it('wires the plan into the modules: regions, instance types, GPUs, node counts, spot', async () => {
    const r = render(spec, threeCloudsPlan(spec));
    const main: any = {
      module: Object.assign(
        {},
        ...(await Promise.all(
          ['aws', 'gcp', 'azure'].map(
            async (c) =>
              ((await parse('main.tf', r.files[`terraform/${c}/main.tf`]!)) as any).module,
          ),
        )),
      ),
    };
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
    const providers: any = await parse('providers.tf', r.files['terraform/aws/providers.tf']!);
    expect(providers.provider.aws.map((p: any) => p.region)).toContain('us-east-1');
    const gcpVars: any = await parse('variables.tf', r.files['terraform/gcp/variables.tf']!);
    expect(Object.keys(gcpVars.variable)).toEqual(
      expect.arrayContaining(['gcp_project', 'kubernetes_version']),
    );
    const azureVars: any = await parse('variables.tf', r.files['terraform/azure/variables.tf']!);
    expect(Object.keys(azureVars.variable)).toContain('azure_subscription_id');
    expect(gcpVars.variable.kubernetes_version[0].default).toBe('1.34');
  });

  it('pins providers and uses current Kubernetes, spot, labels, taints and least-privilege identity', async () => {
    const modules = await readModules(ALL_MODULES);
    const text = (m: string) =>
      Object.entries(modules)
        .filter(([p]) => p.includes(`/modules/${m}/`))
        .map(([, t]) => t)
        .join('\n');
    const rendered = render(spec, threeCloudsPlan(spec)).files;
    const rp = async (root: string) =>
      ((await parse('versions.tf', rendered[`terraform/${root}/versions.tf`]!)) as any).terraform[0]
        .required_providers[0];
    // AWS: 5.100 (the last 5.x, this machine's mirror) and 6.x both satisfy it.
    expect((await rp('aws')).aws.version).toBe('>= 5.100, < 7.0');
    expect((await rp('gcp')).google.version).toBe('~> 7.0');
    expect((await rp('azure')).azurerm.version).toBe('~> 4.0');
    expect((await rp('aws-addons')).helm.version).toBe('~> 3.0');
    for (const m of ALL_MODULES)
      expect(text(m)).toMatch(/version = "(~> \d+\.0|>= 5\.100, < 7\.0)"/);
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

  it('one root per cloud, each with its own state in the backend the spec names', async () => {
    const s3 = withInfra(S3_STATE);
    const roots = [...new Set(Object.keys(s3.files).map((f) => f.split('/').slice(0, 2).join('/')))]
      .filter((d) => d.startsWith('terraform/'))
      .sort();
    expect(roots).toEqual([
      'terraform/aws',
      'terraform/aws-addons',
      'terraform/azure',
      'terraform/azure-addons',
      'terraform/dns',
      'terraform/gcp',
    ]);
    const keys: string[] = [];
    for (const root of roots) {
      const v = await parsed(s3, `${root}/versions.tf`);
      const backend = v.terraform[0].backend.s3[0];
      expect(backend).toMatchObject({
        bucket: 'acme-tf-state',
        region: 'eu-west-1',
        encrypt: true,
        use_lockfile: true,
      });
      keys.push(backend.key);
    }
    expect(keys).toEqual(
      roots.map((r) => `mcml/ml-inference/${r.slice('terraform/'.length)}.tfstate`),
    );
    // A cloud's root configures only that cloud's provider: one cloud's outage or credentials
    // never block another's plan.
    const providersOf = async (root: string) =>
      Object.keys(
        (await parsed(s3, `terraform/${root}/versions.tf`)).terraform[0].required_providers[0],
      );
    expect(await providersOf('aws')).toEqual(['aws']);
    expect(await providersOf('gcp')).toEqual(['google']);
    expect(await providersOf('azure')).toEqual(['azurerm']);

    const dynamo = withInfra(
      `${S3_STATE}    lock: dynamodb\n    dynamodbTable: tf-locks\n    keyPrefix: teams/ml/\n`,
    );
    const b = (await parsed(dynamo, 'terraform/gcp/versions.tf')).terraform[0].backend.s3[0];
    expect(b).toMatchObject({ dynamodb_table: 'tf-locks', key: 'teams/ml/gcp.tfstate' });
    expect(b).not.toHaveProperty('use_lockfile');

    const gcs = withInfra('  state:\n    backend: gcs\n    bucket: acme-state\n');
    expect((await parsed(gcs, 'terraform/aws/versions.tf')).terraform[0].backend.gcs[0]).toEqual({
      bucket: 'acme-state',
      prefix: 'mcml/ml-inference/aws',
    });
    const az = withInfra(
      '  state:\n    backend: azurerm\n    resourceGroup: tf\n    storageAccount: acmetfstate\n    container: tfstate\n',
    );
    expect((await parsed(az, 'terraform/dns/versions.tf')).terraform[0].backend.azurerm[0]).toEqual(
      {
        resource_group_name: 'tf',
        storage_account_name: 'acmetfstate',
        container_name: 'tfstate',
        key: 'mcml/ml-inference/dns.tfstate',
        use_azuread_auth: true,
      },
    );
    // Without infra.state: local state, and render says so.
    const local = render(spec, threeCloudsPlan(spec));
    expect(local.files['terraform/aws/versions.tf']).not.toMatch(/backend/);
    expect(local.warnings.join('\n')).toMatch(/terraform: state is local .* set infra\.state/);
  });

  it('a state backend with lock: dynamodb and no table is refused with the fix', () => {
    const issues = (text: string): string => {
      try {
        loadSpec('three-clouds.yaml', (t) => t + text);
      } catch (error) {
        return JSON.stringify((error as { issues?: unknown }).issues);
      }
      return 'accepted';
    };
    expect(issues(`infra:\n${S3_STATE}    lock: dynamodb\n`)).toMatch(
      /infra\.state\.dynamodbTable","message":"lock: dynamodb needs dynamodbTable/,
    );
    expect(issues('infra:\n  apiAccess:\n    authorizedCidrs: [10.0.0.0/33]\n')).toMatch(
      /infra\.apiAccess\.authorizedCidrs\[0\]","message":"must be an IPv4 CIDR/,
    );
  });

  it('every target carries mcml-service, mcml-target and mcml-cloud: AWS default_tags, GCP default labels, Azure tags', async () => {
    const r = render(spec, threeCloudsPlan(spec));
    const want = (target: string, cloud: string) => ({
      'managed-by': 'mcml',
      'mcml-service': 'ml-inference',
      'mcml-target': target,
      'mcml-cloud': cloud,
    });
    const tagsOf = async (root: string) =>
      (await parsed(r, `terraform/${root}/main.tf`)).locals[0].tags;
    expect((await tagsOf('aws')).aws_primary).toEqual(want('aws-primary', 'aws'));
    expect((await tagsOf('gcp')).gcp_secondary).toEqual(want('gcp-secondary', 'gcp'));
    expect((await tagsOf('azure')).azure_tertiary).toEqual(want('azure-tertiary', 'azure'));
    const aws = await parsed(r, 'terraform/aws/providers.tf');
    for (const p of aws.provider.aws)
      expect(p.default_tags[0].tags).toBe(`\${local.tags.${p.alias}}`);
    const gcp = await parsed(r, 'terraform/gcp/providers.tf');
    for (const p of gcp.provider.google) expect(p.default_labels).toBe(`\${local.tags.${p.alias}}`);
    const dnsTags = (await parsed(r, 'terraform/dns/main.tf')).locals[0].tags;
    expect(dnsTags).toMatchObject({ 'mcml-service': 'ml-inference', 'mcml-cloud': 'aws' });
    // Azure has no default tags: every taggable resource of its modules takes var.tags.
    const modules = await readModules(['aks', 'azure-blob', 'eks', 'route53-failover']);
    const untaggable = new Set([
      'azurerm_subnet',
      'azurerm_federated_identity_credential',
      'azurerm_role_assignment',
      'azurerm_storage_container',
    ]);
    for (const m of ['aks', 'azure-blob']) {
      const doc: any = await parse('main.tf', modules[`terraform/modules/${m}/main.tf`]!);
      for (const [type, byName] of Object.entries<any>(doc.resource)) {
        if (untaggable.has(type)) continue;
        for (const [name, [res]] of Object.entries<any>(byName)) {
          expect(res.tags, `${m}: ${type}.${name}`).toMatch(/var\.tags/);
        }
      }
    }
    // EKS instances and volumes carry the tags (node group tags alone stay on the group).
    const eks: any = await parse('main.tf', modules['terraform/modules/eks/main.tf']!);
    const lt = eks.resource.aws_launch_template.nodes[0];
    expect(lt.dynamic.tag_specifications[0].for_each).toMatch(/"instance", "volume"/);
    expect(eks.resource.aws_eks_node_group.ml[0].launch_template[0].id).toMatch(
      /aws_launch_template\.nodes/,
    );
    const r53: any = await parse('main.tf', modules['terraform/modules/route53-failover/main.tf']!);
    expect(r53.resource.aws_route53_health_check.tier[0].tags).toMatch(/"mcml-target" = each\.key/);
  });

  it('EKS: metrics-server for the HPA and a cluster autoscaler that owns desired_size; GKE and AKS autoscale their pools', async () => {
    const modules = await readModules(['eks', 'gke', 'aks']);
    const doc = async (m: string): Promise<any> =>
      parse('main.tf', modules[`terraform/modules/${m}/main.tf`]!);
    const eks = await doc('eks');
    expect(eks.resource.aws_eks_addon.metrics_server[0].addon_name).toBe('metrics-server');
    expect(eks.resource.aws_eks_node_group.ml[0].lifecycle[0].ignore_changes).toEqual([
      '${scaling_config[0].desired_size}',
    ]);
    const trust = eks.resource.aws_iam_role.autoscaler[0].assume_role_policy;
    expect(trust).toMatch(
      /system:serviceaccount:kube-system:\$\{var\.autoscaler_service_account\}/,
    );
    const policy = eks.resource.aws_iam_role_policy.autoscaler[0].policy;
    expect(policy).toMatch(/autoscaling:SetDesiredCapacity/);
    expect(policy).toMatch(
      /aws:ResourceTag\/k8s\.io\/cluster-autoscaler\/\$\{var\.name\}" = "owned"/,
    );
    const r = render(spec, threeCloudsPlan(spec));
    const addons = await parsed(r, 'terraform/aws-addons/main.tf');
    const ca = addons.resource.helm_release.cluster_autoscaler_aws_primary[0];
    expect(ca.chart).toBe('cluster-autoscaler');
    expect(ca.values[0]).toMatch(/clusterName = data\.aws_eks_cluster\.aws_primary\.name/);
    expect(ca.values[0]).toMatch(
      /"eks\.amazonaws\.com\/role-arn" = data\.aws_iam_role\.autoscaler_aws_primary\.arn/,
    );
    expect(addons.data.aws_iam_role.autoscaler_aws_primary[0].name).toBe(
      'ml-inference-aws-primary-autoscaler',
    );
    expect(addons.resource.helm_release.nvidia_device_plugin_aws_primary).toBeDefined();
    expect(r.files['terraform/aws/main.tf']).not.toMatch(/helm/);
    const gke = await doc('gke');
    expect(gke.resource.google_container_node_pool.ml[0].autoscaling[0]).toMatchObject({
      total_min_node_count: '${each.value.min}',
      total_max_node_count: '${each.value.max}',
    });
    const aks = await doc('aks');
    expect(aks.resource.azurerm_kubernetes_cluster_node_pool.ml[0].auto_scaling_enabled).toBe(true);
    expect(aks.resource.azurerm_kubernetes_cluster.this[0].auto_scaler_profile).toBeDefined();
  });

  it('private Kubernetes API endpoints and authorized CIDRs reach every cluster module', async () => {
    const open = render(spec, threeCloudsPlan(spec));
    const closed = withInfra(PRIVATE_API.replace('infra:\n', ''));
    for (const cloud of CLOUD_ROOTS) {
      const id = { aws: 'aws_primary', gcp: 'gcp_secondary', azure: 'azure_tertiary' }[cloud]!;
      const before = (await parsed(open, `terraform/${cloud}/main.tf`)).module[`cluster_${id}`][0];
      expect(before).toMatchObject({ api_private: false, api_authorized_cidrs: [] });
      const after = (await parsed(closed, `terraform/${cloud}/main.tf`)).module[`cluster_${id}`][0];
      expect(after).toMatchObject({ api_private: true, api_authorized_cidrs: ['10.99.0.0/16'] });
    }
    const modules = await readModules(['eks', 'gke', 'aks']);
    const doc = async (m: string): Promise<any> =>
      parse('main.tf', modules[`terraform/modules/${m}/main.tf`]!);
    const vpc = (await doc('eks')).resource.aws_eks_cluster.this[0].vpc_config[0];
    expect(vpc.endpoint_public_access).toBe('${!var.api_private}');
    expect(vpc.public_access_cidrs).toMatch(/var\.api_private \? null : local\.public_cidrs/);
    const gke = (await doc('gke')).resource.google_container_cluster.this[0];
    expect(gke.dynamic.private_cluster_config[0].content[0]).toMatchObject({
      enable_private_nodes: true,
      enable_private_endpoint: true,
    });
    expect(gke.dynamic.master_authorized_networks_config).toBeDefined();
    const aks = (await doc('aks')).resource.azurerm_kubernetes_cluster.this[0];
    expect(aks.private_cluster_enabled).toBe('${var.api_private}');
    expect(aks.dynamic.api_server_access_profile[0].content[0].authorized_ip_ranges).toBe(
      '${var.api_authorized_cidrs}',
    );
  });

  it('rendered files and modules pass terraform fmt -check', () => {
    requireTerraform();
    const dir = mkdtempSync(join(tmpdir(), 'mcml-tf-'));
    dirs.push(dir);
    const r = render(
      loadSpec('three-clouds.yaml', (t) => t + PRIVATE_API + S3_STATE),
      threeCloudsPlan(spec),
    );
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
    expect(readFileSync(join(dir, 'terraform/aws/main.tf'), 'utf8')).toContain(
      'module "cluster_aws_primary"',
    );
  });
});
