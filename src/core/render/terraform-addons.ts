/**
 * The `aws-addons` and `azure-addons` roots: what runs inside the clusters and is installed
 * with Helm — the cluster autoscaler on EKS (GKE and AKS autoscale their node pools
 * themselves) and NVIDIA's device plugin where the cloud does not install it. They find their
 * clusters by name through data sources, so they share no state with the cloud roots and
 * keep the Helm provider out of the roots that create the clusters.
 */
import type { RenderContext, RenderTarget } from './context.js';
import { attr, block, expr, type Block } from './hcl.js';
import {
  awsProvider,
  azurermProvider,
  tagLocals,
  variable,
  type RootParts,
} from './terraform-root.js';

/** NVIDIA device plugin chart for EKS and AKS (GKE installs drivers and plugin itself). */
export const NVIDIA_DEVICE_PLUGIN = {
  repository: 'https://nvidia.github.io/k8s-device-plugin',
  chart: 'nvidia-device-plugin',
  version: '0.17.1',
} as const;

/**
 * Kubernetes' cluster autoscaler for EKS. Its minor version follows the cluster's
 * (KUBERNETES_VERSION): bump the image with it.
 */
export const CLUSTER_AUTOSCALER = {
  repository: 'https://kubernetes.github.io/autoscaler',
  chart: 'cluster-autoscaler',
  version: '9.43.1',
  image: 'v1.34.0',
  serviceAccount: 'cluster-autoscaler',
} as const;

const hasGpu = (t: RenderTarget) => t.placement.gpu !== undefined;

function eksHelmProvider(t: RenderTarget): Block {
  const c = `data.aws_eks_cluster.${t.id}`;
  return block(
    'provider',
    ['helm'],
    [
      attr('alias', t.id),
      attr('kubernetes', {
        host: expr(`${c}.endpoint`),
        cluster_ca_certificate: expr(`base64decode(${c}.certificate_authority[0].data)`),
        exec: {
          api_version: 'client.authentication.k8s.io/v1beta1',
          command: 'aws',
          args: expr(
            `["eks", "get-token", "--cluster-name", ${c}.name, "--region", "${t.placement.region}"]`,
          ),
        },
      }),
    ],
  );
}

function aksHelmProvider(t: RenderTarget): Block {
  const k = `data.azurerm_kubernetes_cluster.${t.id}.kube_config[0]`;
  return block(
    'provider',
    ['helm'],
    [
      attr('alias', t.id),
      attr('kubernetes', {
        host: expr(`${k}.host`),
        client_certificate: expr(`base64decode(${k}.client_certificate)`),
        client_key: expr(`base64decode(${k}.client_key)`),
        cluster_ca_certificate: expr(`base64decode(${k}.cluster_ca_certificate)`),
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
        expr(`[yamlencode({
    nodeSelector = { workload = "ml" }
    tolerations = [
      { key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" },
      { key = "kubernetes.azure.com/scalesetpriority", operator = "Exists", effect = "NoSchedule" },
    ]
  })]`),
      ),
    ],
  );
}

/**
 * The cluster autoscaler, discovering the node groups EKS tags for it and acting through the
 * IRSA role the eks module made (it may only resize this cluster's groups).
 */
function clusterAutoscalerRelease(t: RenderTarget): Block {
  return block(
    'resource',
    ['helm_release', `cluster_autoscaler_${t.id}`],
    [
      attr('provider', expr(`helm.${t.id}`)),
      attr('name', 'cluster-autoscaler'),
      attr('repository', CLUSTER_AUTOSCALER.repository),
      attr('chart', CLUSTER_AUTOSCALER.chart),
      attr('version', CLUSTER_AUTOSCALER.version),
      attr('namespace', 'kube-system'),
      attr(
        'values',
        expr(`[yamlencode({
    cloudProvider = "aws"
    awsRegion     = "${t.placement.region}"
    autoDiscovery = { clusterName = data.aws_eks_cluster.${t.id}.name }
    image         = { tag = "${CLUSTER_AUTOSCALER.image}" }
    nodeSelector  = { workload = "system" }
    rbac = {
      serviceAccount = {
        create      = true
        name        = "${CLUSTER_AUTOSCALER.serviceAccount}"
        annotations = { "eks.amazonaws.com/role-arn" = data.aws_iam_role.autoscaler_${t.id}.arn }
      }
    }
    extraArgs = {
      balance-similar-node-groups = true
      skip-nodes-with-system-pods = false
    }
  })]`),
      ),
    ],
  );
}

function awsAddons(ctx: RenderContext, targets: RenderTarget[]): RootParts {
  const main: Block[] = [tagLocals(ctx, targets)];
  const providerBlocks: Block[] = [];
  for (const t of targets) {
    providerBlocks.push(awsProvider(t), eksHelmProvider(t));
    main.push(
      block(
        'data',
        ['aws_eks_cluster', t.id],
        [attr('provider', expr(`aws.${t.id}`)), attr('name', t.cluster)],
      ),
      block(
        'data',
        ['aws_iam_role', `autoscaler_${t.id}`],
        [attr('provider', expr(`aws.${t.id}`)), attr('name', `${t.cluster}-autoscaler`)],
      ),
      clusterAutoscalerRelease(t),
    );
    if (hasGpu(t)) main.push(devicePluginRelease(t));
  }
  return {
    name: 'aws-addons',
    providers: ['aws', 'helm'],
    providerBlocks,
    variables: [],
    main,
    outputs: [],
    tfvars: [],
  };
}

function azureAddons(targets: RenderTarget[]): RootParts {
  const main: Block[] = [];
  const providerBlocks: Block[] = [azurermProvider()];
  for (const t of targets) {
    providerBlocks.push(aksHelmProvider(t));
    main.push(
      block(
        'data',
        ['azurerm_kubernetes_cluster', t.id],
        [attr('name', t.cluster), attr('resource_group_name', t.cluster)],
      ),
      devicePluginRelease(t),
    );
  }
  return {
    name: 'azure-addons',
    providers: ['azurerm', 'helm'],
    providerBlocks,
    variables: [
      variable('azure_subscription_id', 'Azure subscription ID of the AKS clusters.', 'string'),
    ],
    main,
    outputs: [],
    tfvars: ['azure_subscription_id = "00000000-0000-0000-0000-000000000000"'],
  };
}

/** The add-on roots the targets need: EKS always (autoscaler), AKS only with GPUs. */
export function renderAddonRoots(ctx: RenderContext): RootParts[] {
  const roots: RootParts[] = [];
  const aws = ctx.targets.filter((t) => t.cloud === 'aws');
  if (aws.length > 0) roots.push(awsAddons(ctx, aws));
  const azureGpu = ctx.targets.filter((t) => t.cloud === 'azure' && hasGpu(t));
  if (azureGpu.length > 0) roots.push(azureAddons(azureGpu));
  return roots;
}
