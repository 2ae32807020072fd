/**
 * The Terraform root module (`terraform/`): providers pinned, one bucket module and one
 * cluster module per cloud target wired from the plan (region, instance type, GPU, node
 * counts, spot), the NVIDIA device plugin where the cloud does not install it, Route 53
 * failover records, variables for what the user supplies and outputs for what comes next.
 */
import type { RenderContext, RenderTarget } from './context.js';
import { failoverTiers, recordName, wantsRoute53 } from './dns.js';
import {
  attr,
  blank,
  block,
  comment,
  expr,
  renderFile,
  type Block,
  type BodyItem,
  type HclValue,
} from './hcl.js';

/** Provider versions the modules and the root pin. Bump them together with terraform/modules. */
export const PROVIDER_VERSIONS = {
  aws: { source: 'hashicorp/aws', version: '~> 6.0' },
  google: { source: 'hashicorp/google', version: '~> 7.0' },
  azurerm: { source: 'hashicorp/azurerm', version: '~> 4.0' },
  helm: { source: 'hashicorp/helm', version: '~> 3.0' },
} as const;

/** Kubernetes minor version of every cluster (all three clouds support it). */
export const KUBERNETES_VERSION = '1.34';

/** NVIDIA device plugin chart for EKS and AKS (GKE installs drivers and plugin itself). */
export const NVIDIA_DEVICE_PLUGIN = {
  repository: 'https://nvidia.github.io/k8s-device-plugin',
  chart: 'nvidia-device-plugin',
  version: '0.17.1',
} as const;

const MODULE_SOURCES = {
  aws: { cluster: 'eks', bucket: 's3-bucket' },
  gcp: { cluster: 'gke', bucket: 'gcs-bucket' },
  azure: { cluster: 'aks', bucket: 'azure-blob' },
} as const;

export interface TerraformOutput {
  files: Record<string, string>;
  /** Names of terraform/modules/* the root module uses; the writer copies them in. */
  modules: string[];
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

function providerAlias(t: RenderTarget): string {
  return t.cloud === 'aws' ? `aws.${t.id}` : `google.${t.id}`;
}

function tagsExpr(t: RenderTarget): HclValue {
  return t.cloud === 'gcp' ? expr('local.labels') : expr('local.tags');
}

function targetBlocks(ctx: RenderContext, t: RenderTarget): Block[] {
  const p = t.placement;
  const b = nodeBounds(t);
  const common: BodyItem[] = [
    attr('namespace', expr('local.namespace')),
    attr('service_account', expr('local.service_account')),
  ];
  const header = comment(
    `${p.target}: tier ${p.tier}, ${p.cloud} ${p.region}, ${p.instanceType}` +
      (p.gpu ? ` (${p.gpu.count}×${p.gpu.model})` : '') +
      `, ${p.replicas.min}-${p.replicas.max} replicas, ${p.capacity}`,
  );
  const source = (name: string) => attr('source', `./modules/${name}`);
  if (t.cloud === 'aws') {
    return [
      block(
        'module',
        [`bucket_${t.id}`],
        [
          header,
          source('s3-bucket'),
          attr('providers', { aws: expr(providerAlias(t)) }),
          blank,
          attr('name', t.bucket.bucket),
          attr('tags', tagsExpr(t)),
        ],
      ),
      block(
        'module',
        [`cluster_${t.id}`],
        [
          source('eks'),
          attr('providers', { aws: expr(providerAlias(t)) }),
          blank,
          attr('name', t.cluster),
          attr('kubernetes_version', expr('var.kubernetes_version')),
          attr('instance_types', [p.instanceType]),
          attr('gpu_count', p.gpu?.count ?? 0),
          attr('on_demand_nodes', bounds(b.onDemand)),
          attr('spot_nodes', bounds(b.spot)),
          attr('bucket_name', expr(`module.bucket_${t.id}.name`)),
          attr('bucket_prefix', t.bucket.prefix),
          ...common,
          attr('tags', tagsExpr(t)),
        ],
      ),
    ];
  }
  if (t.cloud === 'gcp') {
    return [
      block(
        'module',
        [`bucket_${t.id}`],
        [
          header,
          source('gcs-bucket'),
          attr('providers', { google: expr(providerAlias(t)) }),
          blank,
          attr('name', t.bucket.bucket),
          attr('project', expr('var.gcp_project')),
          attr('location', p.region),
          attr('labels', tagsExpr(t)),
        ],
      ),
      block(
        'module',
        [`cluster_${t.id}`],
        [
          source('gke'),
          attr('providers', { google: expr(providerAlias(t)) }),
          blank,
          attr('name', t.cluster),
          attr('project', expr('var.gcp_project')),
          attr('region', p.region),
          attr('node_zones', p.zone === undefined ? [] : [p.zone]),
          attr('kubernetes_version', expr('var.kubernetes_version')),
          attr('machine_type', p.instanceType),
          attr('accelerator_type', p.gpu?.cloudName ?? ''),
          attr('accelerator_count', p.gpu?.count ?? 0),
          attr('on_demand_nodes', bounds(b.onDemand)),
          attr('spot_nodes', bounds(b.spot)),
          attr('bucket_name', expr(`module.bucket_${t.id}.name`)),
          ...common,
          attr('deletion_protection', expr('var.gke_deletion_protection')),
          attr('labels', tagsExpr(t)),
        ],
      ),
    ];
  }
  return [
    block(
      'resource',
      ['azurerm_resource_group', t.id],
      [header, attr('name', t.cluster), attr('location', p.region), attr('tags', tagsExpr(t))],
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
        attr('tags', tagsExpr(t)),
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
        attr('gpu_count', p.gpu?.count ?? 0),
        attr('zones', p.zone === undefined ? [] : [p.zone.replace(/^.*-/, '')]),
        attr('on_demand_nodes', bounds(b.onDemand)),
        attr('spot_nodes', bounds(b.spot)),
        attr('storage_container_id', expr(`module.bucket_${t.id}.container_id`)),
        ...common,
        attr('tags', tagsExpr(t)),
      ],
    ),
  ];
}

function needsDevicePlugin(t: RenderTarget): boolean {
  return t.placement.gpu !== undefined && (t.cloud === 'aws' || t.cloud === 'azure');
}

function helmProvider(t: RenderTarget): Block {
  const m = `module.cluster_${t.id}`;
  if (t.cloud === 'aws') {
    return block(
      'provider',
      ['helm'],
      [
        attr('alias', t.id),
        attr('kubernetes', {
          host: expr(`${m}.cluster_endpoint`),
          cluster_ca_certificate: expr(`base64decode(${m}.cluster_ca_certificate)`),
          exec: {
            api_version: 'client.authentication.k8s.io/v1beta1',
            command: 'aws',
            args: expr(
              `["eks", "get-token", "--cluster-name", ${m}.cluster_name, "--region", "${t.placement.region}"]`,
            ),
          },
        }),
      ],
    );
  }
  return block(
    'provider',
    ['helm'],
    [
      attr('alias', t.id),
      attr('kubernetes', {
        host: expr(`${m}.kube_config.host`),
        client_certificate: expr(`base64decode(${m}.kube_config.client_certificate)`),
        client_key: expr(`base64decode(${m}.kube_config.client_key)`),
        cluster_ca_certificate: expr(`base64decode(${m}.kube_config.cluster_ca_certificate)`),
      }),
    ],
  );
}

function devicePluginRelease(t: RenderTarget): Block {
  return block(
    'resource',
    ['helm_release', `nvidia_device_plugin_${t.id}`],
    [
      attr('provider', expr(`helm.${t.id}`)),
      attr('name', 'nvidia-device-plugin'),
      attr('repository', NVIDIA_DEVICE_PLUGIN.repository),
      attr('chart', NVIDIA_DEVICE_PLUGIN.chart),
      attr('version', NVIDIA_DEVICE_PLUGIN.version),
      attr('namespace', 'kube-system'),
      attr(
        'values',
        expr(
          `[yamlencode({
    nodeSelector = { workload = "ml" }
    tolerations = [
      { key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" },
      { key = "kubernetes.azure.com/scalesetpriority", operator = "Exists", effect = "NoSchedule" },
    ]
  })]`,
        ),
      ),
      blank,
      attr('depends_on', expr(`[module.cluster_${t.id}]`)),
    ],
  );
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

/** Renders the root module. */
export function renderTerraform(ctx: RenderContext): TerraformOutput {
  const targets = ctx.targets;
  if (targets.length === 0) return { files: {}, modules: [] };
  const clouds = new Set(targets.map((t) => t.cloud));
  const route53 = wantsRoute53(ctx);
  const gpuPlugins = targets.filter(needsDevicePlugin);
  const modules = new Set<string>();
  for (const t of targets) {
    modules.add(MODULE_SOURCES[t.cloud].cluster);
    modules.add(MODULE_SOURCES[t.cloud].bucket);
  }
  if (route53) modules.add('route53-failover');

  // versions.tf
  const providers: Record<string, HclValue> = {};
  if (clouds.has('aws') || route53) providers.aws = { ...PROVIDER_VERSIONS.aws };
  if (clouds.has('gcp')) providers.google = { ...PROVIDER_VERSIONS.google };
  if (clouds.has('azure')) providers.azurerm = { ...PROVIDER_VERSIONS.azurerm };
  if (gpuPlugins.length > 0) providers.helm = { ...PROVIDER_VERSIONS.helm };
  const versions = renderFile([
    comment(`Rendered by mcml from the plan of service "${ctx.spec.service.name}". Do not edit:`),
    comment('change mcml.yaml and run "mcml render" again.'),
    blank,
    block(
      'terraform',
      [],
      [
        attr('required_version', '>= 1.9'),
        blank,
        block(
          'required_providers',
          [],
          Object.entries(providers).map(([k, v]) => attr(k, v)),
        ),
      ],
    ),
  ]);

  // providers.tf
  const providerBlocks: Block[] = [];
  const firstAws = targets.find((t) => t.cloud === 'aws');
  if (clouds.has('aws') || route53) {
    providerBlocks.push(
      block(
        'provider',
        ['aws'],
        [
          comment('Default provider: Route 53 is global.'),
          attr('region', firstAws?.placement.region ?? 'us-east-1'),
          blank,
          block('default_tags', [], [attr('tags', expr('local.tags'))]),
        ],
      ),
    );
  }
  for (const t of targets) {
    if (t.cloud === 'aws') {
      providerBlocks.push(
        block(
          'provider',
          ['aws'],
          [
            attr('alias', t.id),
            attr('region', t.placement.region),
            blank,
            block('default_tags', [], [attr('tags', expr('local.tags'))]),
          ],
        ),
      );
    } else if (t.cloud === 'gcp') {
      providerBlocks.push(
        block(
          'provider',
          ['google'],
          [
            attr('alias', t.id),
            attr('project', expr('var.gcp_project')),
            attr('region', t.placement.region),
          ],
        ),
      );
    }
  }
  if (clouds.has('azure')) {
    providerBlocks.push(
      block(
        'provider',
        ['azurerm'],
        [
          attr('subscription_id', expr('var.azure_subscription_id')),
          comment('Storage accounts have shared keys off: use Entra ID for data-plane calls.'),
          attr('storage_use_azuread', true),
          blank,
          block('features', [], []),
        ],
      ),
    );
  }
  for (const t of gpuPlugins) providerBlocks.push(helmProvider(t));
  const providersTf = renderFile(providerBlocks);

  // variables.tf
  const variables: Block[] = [
    block(
      'variable',
      ['kubernetes_version'],
      [
        attr('description', 'Kubernetes minor version of every cluster.'),
        attr('type', expr('string')),
        attr('default', KUBERNETES_VERSION),
      ],
    ),
  ];
  if (clouds.has('gcp')) {
    variables.push(
      block(
        'variable',
        ['gcp_project'],
        [
          attr('description', 'GCP project ID for the GKE clusters and GCS buckets.'),
          attr('type', expr('string')),
        ],
      ),
      block(
        'variable',
        ['gke_deletion_protection'],
        [
          attr('description', 'Refuse to destroy the GKE clusters.'),
          attr('type', expr('bool')),
          attr('default', true),
        ],
      ),
    );
  }
  if (clouds.has('azure')) {
    variables.push(
      block(
        'variable',
        ['azure_subscription_id'],
        [
          attr('description', 'Azure subscription ID for the AKS clusters and storage accounts.'),
          attr('type', expr('string')),
        ],
      ),
    );
  }
  const tiers = route53 ? failoverTiers(ctx) : [];
  for (const tier of tiers) {
    if (tier.host !== undefined) continue;
    const t = targets.find((x) => x.placement.target === tier.target)!;
    variables.push(
      block(
        'variable',
        [`lb_host_${t.id}`],
        [
          attr(
            'description',
            `DNS name or IPv4 address of ${tier.target}'s load balancer: kubectl --context ${t.placement.context ?? t.placement.target} -n ${ctx.namespace} get service ${ctx.spec.service.name} (or set targets[].endpoint in mcml.yaml).`,
          ),
          attr('type', expr('string')),
        ],
      ),
    );
  }

  // main.tf
  const main: (Block | ReturnType<typeof comment>)[] = [
    block(
      'locals',
      [],
      [
        attr('namespace', ctx.namespace),
        attr('service_account', ctx.serviceAccount),
        attr('tags', { 'managed-by': 'mcml', 'mcml-service': ctx.spec.service.name }),
        attr('labels', { 'managed-by': 'mcml', 'mcml-service': ctx.spec.service.name }),
      ],
    ),
  ];
  for (const t of targets) main.push(...targetBlocks(ctx, t));
  for (const t of gpuPlugins) main.push(devicePluginRelease(t));

  const files: Record<string, string> = {
    'terraform/versions.tf': versions,
    'terraform/providers.tf': providersTf,
    'terraform/variables.tf': renderFile(variables),
    'terraform/main.tf': renderFile(main),
  };

  // dns.tf
  if (route53) {
    const dns = ctx.spec.failover.dns!;
    const zoneBlocks: Block[] = [];
    let zoneId: HclValue;
    if (dns.hostedZoneId !== undefined) zoneId = dns.hostedZoneId;
    else {
      zoneBlocks.push(
        block('data', ['aws_route53_zone', 'this'], [attr('name', dns.zone.replace(/\.$/, ''))]),
      );
      zoneId = expr('data.aws_route53_zone.this.zone_id');
    }
    files['terraform/dns.tf'] = renderFile([
      ...zoneBlocks,
      block(
        'module',
        ['dns_failover'],
        [
          comment('Ordered failover: tier 1, then tier 2, then tier 3, … (see the module).'),
          attr('source', './modules/route53-failover'),
          blank,
          attr('zone_id', zoneId),
          attr('record_name', recordName(ctx)),
          attr('ttl', dns.ttl),
          attr(
            'tiers',
            tiers.map((tier) => {
              const t = targets.find((x) => x.placement.target === tier.target)!;
              return {
                name: tier.target,
                host: tier.host ?? expr(`var.lb_host_${t.id}`),
                protocol: tier.protocol,
                port: tier.port,
                path: tier.path,
              };
            }),
          ),
          attr('tags', expr('local.tags')),
        ],
      ),
    ]);
  }

  // outputs.tf
  const outputs: Block[] = [
    block(
      'output',
      ['kubeconfig_commands'],
      [
        attr(
          'description',
          'Commands that add each cluster to your kubeconfig under the context mcml uses.',
        ),
        attr(
          'value',
          Object.fromEntries(targets.map((t) => [t.placement.target, kubeconfigCommand(t)])),
        ),
      ],
    ),
    block(
      'output',
      ['cluster_endpoints'],
      [
        attr('description', 'Kubernetes API server URL of each cluster.'),
        attr(
          'value',
          Object.fromEntries(
            targets.map((t) => [
              t.placement.target,
              expr(`module.cluster_${t.id}.cluster_endpoint`),
            ]),
          ),
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
          'ServiceAccount annotations per target: pass this output to "mcml render --identities".',
        ),
        attr(
          'value',
          Object.fromEntries(
            targets.map((t) => [t.placement.target, { annotations: identityAnnotation(t) }]),
          ),
        ),
      ],
    ),
    block(
      'output',
      ['buckets'],
      [
        attr('description', 'Bucket each target reads its model from.'),
        attr('value', Object.fromEntries(targets.map((t) => [t.placement.target, t.bucket.uri]))),
      ],
    ),
  ];
  if (route53) {
    outputs.push(
      block(
        'output',
        ['health_check_ids'],
        [
          attr('description', 'Route 53 health check ID per target.'),
          attr('value', expr('module.dns_failover.health_check_ids')),
        ],
      ),
    );
  }
  files['terraform/outputs.tf'] = renderFile(outputs);

  // terraform.tfvars.example
  const needed: string[] = [];
  if (clouds.has('gcp')) needed.push('gcp_project = "my-gcp-project"');
  if (clouds.has('azure')) {
    needed.push('azure_subscription_id = "00000000-0000-0000-0000-000000000000"');
  }
  for (const tier of tiers) {
    if (tier.host === undefined) {
      const t = targets.find((x) => x.placement.target === tier.target)!;
      needed.push(`lb_host_${t.id} = "<load balancer DNS name or IPv4 of ${tier.target}>"`);
    }
  }
  files['terraform/terraform.tfvars.example'] =
    [
      '# Copy to terraform.tfvars and fill in; mcml never overwrites terraform.tfvars.',
      ...needed,
    ].join('\n') + '\n';
  return { files, modules: [...modules].sort() };
}
