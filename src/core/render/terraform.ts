/**
 * The Terraform roots (`terraform/<root>/`, see TERRAFORM_ROOTS): one per cloud with its
 * buckets and clusters wired from the plan (region, instance type, GPU, node counts, spot),
 * one per cloud for what runs inside its clusters (cluster autoscaler, NVIDIA device plugin),
 * and one for the Route 53 failover records. Each has its own state in the spec's backend.
 */
import { nodeDiskGb } from './model-cache.js';
import type { RenderContext, RenderTarget } from './context.js';
import { renderDnsRoot } from './terraform-dns.js';
import { renderAddonRoots } from './terraform-addons.js';
import {
  attr,
  blank,
  block,
  comment,
  expr,
  type Block,
  type BodyItem,
  type HclValue,
} from './hcl.js';
import {
  awsProvider,
  azurermProvider,
  rootFiles,
  tagLocals,
  tags,
  variable,
  type RootParts,
} from './terraform-root.js';

export {
  AFTER_DEPLOY_ROOTS,
  attributionTags,
  PROVIDER_VERSIONS,
  TERRAFORM_ROOTS,
  type TerraformRoot,
} from './terraform-root.js';

/** Kubernetes minor version of every cluster (all three clouds support it). */
export const KUBERNETES_VERSION = '1.34';

const MODULE_SOURCES = {
  aws: { cluster: 'eks', bucket: 's3-bucket' },
  gcp: { cluster: 'gke', bucket: 'gcs-bucket' },
  azure: { cluster: 'aks', bucket: 'azure-blob' },
} as const;

export interface TerraformOutput {
  files: Record<string, string>;
  /** Names of terraform/modules/* the roots use; the writer copies them in. */
  modules: string[];
  warnings: string[];
}

interface NodeBounds {
  onDemand: { min: number; max: number };
  spot: { min: number; max: number };
}

/**
 * Node pool bounds from the plan, one replica per node: on-demand only → one pool min..max;
 * with spot → an on-demand pool fixed at the on-demand floor and a spot pool for the rest.
 */
export function nodeBounds(t: RenderTarget): NodeBounds {
  const r = t.placement.replicas;
  if (t.placement.capacity === 'on-demand') {
    return { onDemand: { min: r.min, max: r.max }, spot: { min: 0, max: 0 } };
  }
  const floor = r.onDemand;
  return {
    onDemand: { min: floor, max: floor },
    spot: { min: r.spot, max: Math.max(r.max - floor, r.spot) },
  };
}

const bounds = (b: { min: number; max: number }): HclValue => ({ min: b.min, max: b.max });

function apiAccess(ctx: RenderContext): BodyItem[] {
  const a = ctx.spec.infra.apiAccess;
  return [attr('api_private', a.private), attr('api_authorized_cidrs', [...a.authorizedCidrs])];
}

function header(t: RenderTarget) {
  const p = t.placement;
  return comment(
    `${p.target}: tier ${p.tier}, ${p.cloud} ${p.region}, ${p.instanceType}` +
      (p.gpu ? ` (${p.gpu.count}×${p.gpu.model})` : '') +
      `, ${p.replicas.min}-${p.replicas.max} replicas, ${p.capacity}`,
  );
}

const source = (name: string) => attr('source', `../modules/${name}`);

function common(ctx: RenderContext): BodyItem[] {
  return [
    attr('namespace', expr('local.namespace')),
    attr('service_account', expr('local.service_account')),
    ...apiAccess(ctx),
  ];
}

/** The cloud modules' ML node disks (GB) unless the model cache needs more (model-cache.ts). */
const EKS_NODE_DISK_GB = 100;
const GKE_NODE_DISK_GB = 100;
const AKS_NODE_DISK_GB = 128;

function awsTarget(ctx: RenderContext, t: RenderTarget): Block[] {
  const p = t.placement;
  const b = nodeBounds(t);
  const providers = attr('providers', { aws: expr(`aws.${t.id}`) });
  return [
    block(
      'module',
      [`bucket_${t.id}`],
      [
        header(t),
        source('s3-bucket'),
        providers,
        blank,
        attr('name', t.bucket.bucket),
        attr('tags', tags(t)),
      ],
    ),
    block(
      'module',
      [`cluster_${t.id}`],
      [
        source('eks'),
        providers,
        blank,
        attr('name', t.cluster),
        attr('kubernetes_version', expr('var.kubernetes_version')),
        attr('instance_types', [p.instanceType]),
        attr('node_disk_gb', nodeDiskGb(ctx.spec, EKS_NODE_DISK_GB)),
        attr('gpu_count', p.gpu?.count ?? 0),
        attr('on_demand_nodes', bounds(b.onDemand)),
        attr('spot_nodes', bounds(b.spot)),
        attr('bucket_name', expr(`module.bucket_${t.id}.name`)),
        attr('bucket_prefix', t.bucket.prefix),
        ...common(ctx),
        attr('tags', tags(t)),
      ],
    ),
  ];
}

function gcpTarget(ctx: RenderContext, t: RenderTarget): Block[] {
  const p = t.placement;
  const b = nodeBounds(t);
  const providers = attr('providers', { google: expr(`google.${t.id}`) });
  return [
    block(
      'module',
      [`bucket_${t.id}`],
      [
        header(t),
        source('gcs-bucket'),
        providers,
        blank,
        attr('name', t.bucket.bucket),
        attr('project', expr('var.gcp_project')),
        attr('location', p.region),
        attr('labels', tags(t)),
      ],
    ),
    block(
      'module',
      [`cluster_${t.id}`],
      [
        source('gke'),
        providers,
        blank,
        attr('name', t.cluster),
        attr('project', expr('var.gcp_project')),
        attr('region', p.region),
        attr('node_zones', p.zone === undefined ? [] : [p.zone]),
        attr('kubernetes_version', expr('var.kubernetes_version')),
        attr('machine_type', p.instanceType),
        attr('node_disk_gb', nodeDiskGb(ctx.spec, GKE_NODE_DISK_GB)),
        attr('accelerator_type', p.gpu?.cloudName ?? ''),
        attr('accelerator_count', p.gpu?.count ?? 0),
        attr('on_demand_nodes', bounds(b.onDemand)),
        attr('spot_nodes', bounds(b.spot)),
        attr('bucket_name', expr(`module.bucket_${t.id}.name`)),
        ...common(ctx),
        attr('deletion_protection', expr('var.gke_deletion_protection')),
        attr('labels', tags(t)),
      ],
    ),
  ];
}

function azureTarget(ctx: RenderContext, t: RenderTarget): Block[] {
  const p = t.placement;
  const b = nodeBounds(t);
  return [
    block(
      'resource',
      ['azurerm_resource_group', t.id],
      [header(t), attr('name', t.cluster), attr('location', p.region), attr('tags', tags(t))],
    ),
    block(
      'module',
      [`bucket_${t.id}`],
      [
        source('azure-blob'),
        blank,
        attr('account_name', t.bucket.bucket),
        attr('container_name', t.bucket.container ?? 'models'),
        attr('location', p.region),
        attr('resource_group_name', expr(`azurerm_resource_group.${t.id}.name`)),
        attr('tags', tags(t)),
      ],
    ),
    block(
      'module',
      [`cluster_${t.id}`],
      [
        source('aks'),
        blank,
        attr('name', t.cluster),
        attr('location', p.region),
        attr('resource_group_name', expr(`azurerm_resource_group.${t.id}.name`)),
        attr('kubernetes_version', expr('var.kubernetes_version')),
        attr('vm_size', p.instanceType),
        attr('node_disk_gb', nodeDiskGb(ctx.spec, AKS_NODE_DISK_GB)),
        attr('gpu_count', p.gpu?.count ?? 0),
        attr('zones', p.zone === undefined ? [] : [p.zone.replace(/^.*-/, '')]),
        attr('on_demand_nodes', bounds(b.onDemand)),
        attr('spot_nodes', bounds(b.spot)),
        attr('storage_container_id', expr(`module.bucket_${t.id}.container_id`)),
        ...common(ctx),
        attr('tags', tags(t)),
      ],
    ),
  ];
}

function kubeconfigCommand(t: RenderTarget): HclValue {
  const m = `module.cluster_${t.id}`;
  const p = t.placement;
  const context = p.context ?? p.target;
  if (t.cloud === 'aws') {
    return expr(
      `"aws eks update-kubeconfig --name \${${m}.cluster_name} --region ${p.region} --alias ${context}"`,
    );
  }
  if (t.cloud === 'gcp') {
    return expr(
      `"gcloud container clusters get-credentials \${${m}.cluster_name} --region ${p.region} --project \${var.gcp_project} && kubectl config rename-context gke_\${var.gcp_project}_${p.region}_\${${m}.cluster_name} ${context}"`,
    );
  }
  return expr(
    `"az aks get-credentials --resource-group \${azurerm_resource_group.${t.id}.name} --name \${${m}.cluster_name} --context ${context}"`,
  );
}

function identityAnnotation(t: RenderTarget): HclValue {
  const m = `module.cluster_${t.id}`;
  if (t.cloud === 'aws') return { 'eks.amazonaws.com/role-arn': expr(`${m}.service_role_arn`) };
  if (t.cloud === 'gcp') {
    return { 'iam.gke.io/gcp-service-account': expr(`${m}.service_account_email`) };
  }
  return { 'azure.workload.identity/client-id': expr(`${m}.service_client_id`) };
}

function cloudOutputs(targets: RenderTarget[]): Block[] {
  const byTarget = (f: (t: RenderTarget) => HclValue) =>
    Object.fromEntries(targets.map((t) => [t.placement.target, f(t)]));
  return [
    block(
      'output',
      ['kubeconfig_commands'],
      [
        attr(
          'description',
          'Commands that add each cluster to your kubeconfig under the context mcml uses.',
        ),
        attr('value', byTarget(kubeconfigCommand)),
      ],
    ),
    block(
      'output',
      ['cluster_endpoints'],
      [
        attr('description', 'Kubernetes API server URL of each cluster.'),
        attr(
          'value',
          byTarget((t) => expr(`module.cluster_${t.id}.cluster_endpoint`)),
        ),
        attr('sensitive', true),
      ],
    ),
    block(
      'output',
      ['workload_identities'],
      [
        attr(
          'description',
          'ServiceAccount annotations per target: "mcml infra apply" merges this output of every root into identities.json for "mcml render --identities".',
        ),
        attr(
          'value',
          byTarget((t) => ({ annotations: identityAnnotation(t) })),
        ),
      ],
    ),
    block(
      'output',
      ['buckets'],
      [
        attr('description', 'Bucket each target reads its model from.'),
        attr(
          'value',
          byTarget((t) => t.bucket.uri),
        ),
      ],
    ),
  ];
}

/** The root of one cloud: its buckets and clusters. */
function cloudRoot(
  ctx: RenderContext,
  cloud: 'aws' | 'gcp' | 'azure',
  targets: RenderTarget[],
): RootParts {
  const variables: Block[] = [
    variable(
      'kubernetes_version',
      'Kubernetes minor version of every cluster.',
      'string',
      KUBERNETES_VERSION,
    ),
  ];
  const tfvars: string[] = [];
  const providerBlocks: Block[] = [];
  if (cloud === 'aws') providerBlocks.push(...targets.map(awsProvider));
  if (cloud === 'gcp') {
    variables.push(
      variable('gcp_project', 'GCP project ID for the GKE clusters and GCS buckets.', 'string'),
      variable('gke_deletion_protection', 'Refuse to destroy the GKE clusters.', 'bool', true),
    );
    tfvars.push('gcp_project = "my-gcp-project"');
    for (const t of targets) {
      providerBlocks.push(
        block(
          'provider',
          ['google'],
          [
            attr('alias', t.id),
            attr('project', expr('var.gcp_project')),
            attr('region', t.placement.region),
            attr('default_labels', tags(t)),
          ],
        ),
      );
    }
  }
  if (cloud === 'azure') {
    variables.push(
      variable(
        'azure_subscription_id',
        'Azure subscription ID for the AKS clusters and storage accounts.',
        'string',
      ),
    );
    tfvars.push('azure_subscription_id = "00000000-0000-0000-0000-000000000000"');
    providerBlocks.push(azurermProvider());
  }
  const main: Block[] = [
    tagLocals(ctx, targets, [
      attr('namespace', ctx.namespace),
      attr('service_account', ctx.serviceAccount),
    ]),
  ];
  for (const t of targets) {
    if (cloud === 'aws') main.push(...awsTarget(ctx, t));
    else if (cloud === 'gcp') main.push(...gcpTarget(ctx, t));
    else main.push(...azureTarget(ctx, t));
  }
  return {
    name: cloud,
    providers: [cloud === 'aws' ? 'aws' : cloud === 'gcp' ? 'google' : 'azurerm'],
    providerBlocks,
    variables,
    main,
    outputs: cloudOutputs(targets),
    tfvars,
  };
}

/** Renders every root and names the modules they use. */
export function renderTerraform(ctx: RenderContext): TerraformOutput {
  const targets = ctx.targets;
  if (targets.length === 0) return { files: {}, modules: [], warnings: [] };
  const modules = new Set<string>();
  const roots: RootParts[] = [];
  for (const cloud of ['aws', 'gcp', 'azure'] as const) {
    const mine = targets.filter((t) => t.cloud === cloud);
    if (mine.length === 0) continue;
    modules.add(MODULE_SOURCES[cloud].cluster);
    modules.add(MODULE_SOURCES[cloud].bucket);
    roots.push(cloudRoot(ctx, cloud, mine));
  }
  roots.push(...renderAddonRoots(ctx));
  const dns = renderDnsRoot(ctx);
  if (dns !== undefined) {
    roots.push(dns);
    modules.add('route53-failover');
  }
  const files: Record<string, string> = {};
  for (const root of roots) Object.assign(files, rootFiles(ctx.spec, root));
  const warnings: string[] = [];
  if (ctx.spec.infra.state === undefined) {
    warnings.push(
      'terraform: state is local (terraform/<root>/terraform.tfstate on this machine); for a team set infra.state in mcml.yaml (s3, gcs or azurerm)',
    );
  }
  return { files, modules: [...modules].sort(), warnings };
}
