/**
 * Kubernetes manifests: a kustomize base (Namespace, ServiceAccount, Deployment, Service,
 * HorizontalPodAutoscaler, PodDisruptionBudget) and one overlay per target with that cloud's
 * configuration — no placeholders: environment (CLOUD_PROVIDER, REGION, TARGET, MODEL_PATH),
 * load balancer annotations, workload identity, GPU node selection and the plan's replicas.
 */
import type { RenderContext, RenderTarget } from './context.js';
import { azureDnsLabel } from './dns.js';
import { modelCache } from './model-cache.js';
import { edgeObjects, wantsEdge } from './edge.js';
import {
  FRONT_DOOR,
  frontDoorDnsLabel,
  frontDoorObjects,
  frontDoorSpec,
  wantsFrontDoor,
} from './front-door.js';
import { clusterPrometheus, dcgmExporter, gkeDcgmPatch } from './cluster-monitoring.js';
import { CLUSTER_PROMETHEUS, clusterPrometheusConfig, headlessServiceName } from './monitoring.js';

import { yamlDocuments as yaml } from './yaml-documents.js';

type Obj = Record<string, unknown>;

/** Container port of `mcml serve` (its default), named so Services and probes refer to it. */
function port(ctx: RenderContext): number {
  return ctx.spec.service.port;
}

function memoryQuantity(memory: string | number): string {
  return typeof memory === 'number' ? `${memory}Gi` : memory;
}

function cpuQuantity(cpu: number): string {
  return Number.isInteger(cpu) ? String(cpu) : `${Math.round(cpu * 1000)}m`;
}

function labels(ctx: RenderContext): Obj {
  return { 'app.kubernetes.io/name': ctx.spec.service.name, 'app.kubernetes.io/part-of': 'mcml' };
}

function selector(ctx: RenderContext): Obj {
  return { 'app.kubernetes.io/name': ctx.spec.service.name };
}

/** Labels every rendered object carries (kustomize adds them, also to pod templates). */
export const MCML_LABELS = {
  service: 'mcml.io/service',
  target: 'mcml.io/target',
  cloud: 'mcml.io/cloud',
} as const;

/** The variable `mcml serve --auth-token-env` reads, filled from the spec's Secret. */
export const INFERENCE_TOKEN_ENV = 'MCML_INFERENCE_TOKEN';

/**
 * Seconds a terminating pod keeps serving before SIGTERM: endpoint removal reaches kube-proxy
 * and the cloud load balancers asynchronously, so requests still arrive for a few seconds.
 */
export const PRE_STOP_SECONDS = 5;

/**
 * The numeric user and group of the mcml image (Dockerfile `USER 10001:10001`). Pods set it as
 * runAsUser: with runAsNonRoot, a kubelet refuses an image whose user it cannot verify.
 */
export const IMAGE_UID = 10001;

function hpaMinReplicas(min: number): number {
  // autoscaling/v2 needs minReplicas ≥ 1 unless the HPAScaleToZero alpha gate is on.
  return Math.max(1, min);
}

/** The service's Deployment: one `mcml serve` container per pod, scraped by Prometheus. */
function baseDeployment(ctx: RenderContext): Obj {
  const s = ctx.spec.service;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: s.name, labels: labels(ctx) },
    spec: {
      revisionHistoryLimit: 5,
      // A replica may take the model's start-up budget to become ready; only past it (and a
      // margin) is the rollout stuck (ProgressDeadlineExceeded, which mcml deploy rolls back).
      progressDeadlineSeconds: modelCache(ctx.spec).startSeconds + 120,
      selector: { matchLabels: selector(ctx) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: labels(ctx),
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(port(ctx)),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: basePodSpec(ctx),
      },
    },
  };
}

/** Where and as whom the pods run: non-root, on the ML nodes, spread over zones. */
function basePodSpec(ctx: RenderContext): Obj {
  return {
    serviceAccountName: ctx.serviceAccount,
    terminationGracePeriodSeconds: 30,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: IMAGE_UID,
      runAsGroup: IMAGE_UID,
      fsGroup: IMAGE_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    nodeSelector: { workload: 'ml' },
    ...(ctx.spec.service.resources.gpu
      ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] }
      : {}),
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector(ctx) },
      },
    ],
    containers: [serverContainer(ctx)],
    // Past its size limit the kubelet evicts the pod: sized by service.model.cacheSize.
    volumes: [{ name: 'model-cache', emptyDir: { sizeLimit: modelCache(ctx.spec).quantity } }],
  };
}

/** The `mcml serve` container: its command, environment, resources, probes and drain. */
function serverContainer(ctx: RenderContext): Obj {
  const s = ctx.spec.service;
  return {
    name: 'server',
    image: s.image,
    // The image's ENTRYPOINT is the CLI (`node bin/mcml`, CMD `serve`): args replace CMD,
    // so they name the command once. GPU nodes: the CUDA execution provider.
    // Models (and their external weights) come from the clouds' object stores: four ranged
    // GETs per large object fill a node's bandwidth where one stream would not.
    args: [
      'serve',
      '--port',
      String(port(ctx)),
      '--download-streams',
      '4',
      ...(s.resources.gpu ? ['--device', 'cuda'] : []),
      ...(s.auth === undefined ? [] : ['--auth-token-env', INFERENCE_TOKEN_ENV]),
    ],
    ports: [{ name: 'http', containerPort: port(ctx), protocol: 'TCP' }],
    env: serverEnv(ctx),
    resources: serverResources(ctx),
    ...serverProbes(ctx),
    // The kubelet's own sleep (no shell needed in the image); serve drains after SIGTERM.
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'model-cache', mountPath: '/var/cache/mcml' }],
  };
}

/** The spec's environment (sorted) and the inference token from its Secret. */
function serverEnv(ctx: RenderContext): Obj[] {
  const s = ctx.spec.service;
  return [
    { name: 'MODEL_NAME', value: s.model.name },
    // Downloaded models are cached here (an emptyDir: the image's home may be read-only).
    { name: 'XDG_CACHE_HOME', value: '/var/cache/mcml' },
    ...(s.model.sha256 === undefined ? [] : [{ name: 'MODEL_SHA256', value: s.model.sha256 }]),
    ...Object.keys(s.env)
      .sort()
      .map((name) => ({ name, value: s.env[name] })),
    ...(s.auth === undefined
      ? []
      : [
          {
            name: INFERENCE_TOKEN_ENV,
            valueFrom: { secretKeyRef: { name: s.auth.bearerTokenSecret, key: 'token' } },
          },
        ]),
  ];
}

/**
 * CPU and memory requested, memory limited, GPUs both requested and limited, and the model
 * cache's disk requested (so a pod lands on a node with room for the model).
 */
function serverResources(ctx: RenderContext): Obj {
  const { cpu, memory, gpu } = ctx.spec.service.resources;
  const requests: Obj = {
    cpu: cpuQuantity(cpu),
    memory: memoryQuantity(memory),
    'ephemeral-storage': modelCache(ctx.spec).quantity,
  };
  const limits: Obj = { memory: memoryQuantity(memory) };
  if (gpu) {
    requests['nvidia.com/gpu'] = String(gpu.count);
    limits['nvidia.com/gpu'] = String(gpu.count);
  }
  return { requests, limits };
}

/** Startup waits for the model, readiness is the spec's health path, liveness the server's. */
function serverProbes(ctx: RenderContext): Obj {
  return {
    // Downloading and opening the model: 10 s per GiB of model cache, at least 10 minutes.
    startupProbe: {
      httpGet: { path: '/v2/health/ready', port: 'http' },
      periodSeconds: 5,
      failureThreshold: Math.ceil(modelCache(ctx.spec).startSeconds / 5),
    },
    readinessProbe: {
      httpGet: { path: ctx.spec.service.healthPath, port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: '/v2/health/live', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
  };
}

/** `k8s/base/*`: the service's objects, the cluster Prometheus and the optional add-ons. */
function baseFiles(ctx: RenderContext): Record<string, string> {
  const addOns = baseAddOns(ctx);
  return {
    ...addOns,
    'k8s/base/kustomization.yaml': yaml([baseKustomization(ctx, Object.keys(addOns))]),
    'k8s/base/prometheus-cluster.yml': clusterPrometheusConfig(ctx),
    'k8s/base/prometheus.yaml': yaml(clusterPrometheus()),
    'k8s/base/service-pods.yaml': yaml([headlessService(ctx)]),
    'k8s/base/namespace.yaml': yaml([
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ctx.namespace, labels: labels(ctx) },
      },
    ]),
    'k8s/base/serviceaccount.yaml': yaml([
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: ctx.serviceAccount, labels: labels(ctx) },
        automountServiceAccountToken: false,
      },
    ]),
    'k8s/base/deployment.yaml': yaml([baseDeployment(ctx)]),
    'k8s/base/service.yaml': yaml([baseService(ctx)]),
    'k8s/base/hpa.yaml': yaml([baseHpa(ctx)]),
    'k8s/base/pdb.yaml': yaml([
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: ctx.spec.service.name, labels: labels(ctx) },
        spec: { maxUnavailable: 1, selector: { matchLabels: selector(ctx) } },
      },
    ]),
  };
}

/** Files only some services need: the GPU exporter, the front door. */
function baseAddOns(ctx: RenderContext): Record<string, string> {
  const s = ctx.spec.service;
  const files: Record<string, string> = {};
  if (s.resources.gpu) files['k8s/base/dcgm-exporter.yaml'] = yaml(dcgmExporter());
  if (wantsFrontDoor(ctx)) {
    files['k8s/base/front-door.yaml'] = yaml(
      frontDoorObjects(ctx, { image: s.image, uid: IMAGE_UID, preStopSeconds: PRE_STOP_SECONDS }),
    );
  }
  return files;
}

/** The base's kustomization: every resource file, the service label, the Prometheus config. */
function baseKustomization(ctx: RenderContext, addOnPaths: readonly string[]): Obj {
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: ctx.namespace,
    resources: [
      'namespace.yaml',
      'serviceaccount.yaml',
      'deployment.yaml',
      'service.yaml',
      'service-pods.yaml',
      'hpa.yaml',
      'pdb.yaml',
      'prometheus.yaml',
      ...addOnPaths.map((p) => p.slice('k8s/base/'.length)),
    ],
    labels: [{ pairs: { [MCML_LABELS.service]: ctx.spec.service.name }, includeTemplates: true }],
    configMapGenerator: [
      {
        name: CLUSTER_PROMETHEUS.name,
        files: ['prometheus.yml=prometheus-cluster.yml'],
      },
    ],
  };
}

/** The public load balancer in front of the pods (overlays add the cloud's annotations). */
function baseService(ctx: RenderContext): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: ctx.spec.service.name, labels: labels(ctx) },
    spec: {
      type: 'LoadBalancer',
      selector: selector(ctx),
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Headless: its DNS name resolves to every ready pod, for the cluster Prometheus. */
function headlessService(ctx: RenderContext): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: headlessServiceName(ctx), labels: labels(ctx) },
    spec: {
      clusterIP: 'None',
      selector: selector(ctx),
      ports: [{ name: 'http', port: port(ctx), targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Scales on CPU and, when the spec sets a queue depth, on the server's queue gauge. */
function baseHpa(ctx: RenderContext): Obj {
  const s = ctx.spec.service;
  const r = s.replicas;
  const metrics: Obj[] = [
    {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: r.targetCpuUtilization },
      },
    },
  ];
  if (r.targetQueueDepth !== undefined) {
    // Needs a metrics adapter (e.g. prometheus-adapter) serving the server's queue gauge.
    metrics.push({
      type: 'Pods',
      pods: {
        metric: { name: 'mcml_inference_queue_depth' },
        target: { type: 'AverageValue', averageValue: String(r.targetQueueDepth) },
      },
    });
  }
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: s.name, labels: labels(ctx) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
      minReplicas: hpaMinReplicas(r.min),
      maxReplicas: Math.max(r.max, hpaMinReplicas(r.min)),
      metrics,
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  };
}

/** The cloud's annotations for a public L4 load balancer that health-checks the server. */
function serviceAnnotations(
  ctx: RenderContext,
  t: RenderTarget,
  azureLabel = azureDnsLabel(ctx.spec.service.name, t.placement.target),
): Record<string, string> {
  const health = ctx.spec.service.healthPath;
  if (t.cloud === 'aws') {
    return {
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
      'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
      'service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled': 'true',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'HTTP',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-path': health,
    };
  }
  if (t.cloud === 'gcp') {
    // Backend-service-based external passthrough Network Load Balancer.
    return { 'cloud.google.com/l4-rbs': 'enabled' };
  }
  return {
    'service.beta.kubernetes.io/azure-dns-label-name': azureLabel,
    'service.beta.kubernetes.io/azure-load-balancer-health-probe-protocol': 'http',
    'service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path': health,
  };
}

/** `k8s/overlays/<target>/*`: the base patched with this target's cloud, place and size. */
function overlayFiles(ctx: RenderContext, t: RenderTarget): Record<string, string> {
  const s = ctx.spec.service;
  const dir = `k8s/overlays/${t.placement.target}`;
  const kustomization = overlayKustomization(ctx, t);
  const addOns = overlayAddOns(ctx, t, dir, kustomization);
  return {
    ...addOns,
    [`${dir}/kustomization.yaml`]: yaml([kustomization]),
    [`${dir}/deployment-patch.yaml`]: yaml([deploymentPatch(ctx, t)]),
    [`${dir}/service-patch.yaml`]: yaml([publicService(ctx, s.name, serviceAnnotations(ctx, t))]),
    [`${dir}/serviceaccount-patch.yaml`]: yaml([serviceAccountPatch(ctx, t)]),
    [`${dir}/hpa-patch.yaml`]: yaml([hpaPatch(ctx, t)]),
  };
}

/** The target's environment, node selection, tolerations and requests on the server. */
function deploymentPatch(ctx: RenderContext, t: RenderTarget): Obj {
  const p = t.placement;
  const podLabels: Record<string, string> = {};
  const podSpec: Obj = {};
  const nodeSelector: Record<string, string> = {};
  if (t.cloud === 'gcp' && p.gpu)
    nodeSelector['cloud.google.com/gke-accelerator'] = p.gpu.cloudName;
  if (t.cloud === 'azure') podLabels['azure.workload.identity/use'] = 'true';
  const tolerations = overlayTolerations(ctx, t);
  if (Object.keys(nodeSelector).length > 0) podSpec.nodeSelector = nodeSelector;
  if (tolerations.length > 0) podSpec.tolerations = tolerations;
  podSpec.containers = [
    {
      name: 'server',
      env: overlayEnv(t),
      ...(t.requests === undefined
        ? {}
        : {
            resources: {
              requests: { cpu: `${t.requests.cpuMilli}m`, memory: `${t.requests.memoryMi}Mi` },
            },
          }),
    },
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: ctx.spec.service.name },
    spec: {
      template: {
        ...(Object.keys(podLabels).length > 0 ? { metadata: { labels: podLabels } } : {}),
        spec: podSpec,
      },
    },
  };
}

/** Where the server runs (CLOUD_PROVIDER, REGION, TARGET, MODEL_PATH) and the target's own env. */
function overlayEnv(t: RenderTarget): Obj[] {
  const p = t.placement;
  const env = [
    { name: 'CLOUD_PROVIDER', value: t.cloud },
    { name: 'REGION', value: p.region },
    { name: 'TARGET', value: p.target },
    { name: 'MODEL_PATH', value: t.modelPath },
    ...Object.keys(t.target.overrides?.env ?? {})
      .sort()
      .map((name) => ({ name, value: t.env[name] })),
  ];
  if (t.cloud === 'aws') env.push({ name: 'AWS_REGION', value: p.region });
  return env;
}

/** AKS spot nodes' taint (with the GPU one kept: a patch replaces the whole list), or none. */
function overlayTolerations(ctx: RenderContext, t: RenderTarget): Obj[] {
  const tolerations: Obj[] = [];
  if (t.cloud === 'azure' && t.placement.capacity !== 'on-demand') {
    // AKS taints spot nodes; the service may run there.
    tolerations.push({
      key: 'kubernetes.azure.com/scalesetpriority',
      operator: 'Equal',
      value: 'spot',
      effect: 'NoSchedule',
    });
  }
  if (ctx.spec.service.resources.gpu && tolerations.length > 0) {
    // A strategic merge patch replaces the toleration list: keep the GPU one.
    tolerations.unshift({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
  }
  return tolerations;
}

/** The workload identity's annotations on the service account. */
function serviceAccountPatch(ctx: RenderContext, t: RenderTarget): Obj {
  const identityAnnotations = t.identity?.annotations ?? {};
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: ctx.serviceAccount,
      ...(Object.keys(identityAnnotations).length > 0
        ? { annotations: sortKeys(identityAnnotations) }
        : {}),
    },
  };
}

/** The plan's replica range for this target. */
function hpaPatch(ctx: RenderContext, t: RenderTarget): Obj {
  const min = hpaMinReplicas(t.placement.replicas.min);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: ctx.spec.service.name },
    spec: { minReplicas: min, maxReplicas: Math.max(t.placement.replicas.max, min) },
  };
}

/** The overlay's kustomization: the base, the target's labels and patches, its image. */
function overlayKustomization(ctx: RenderContext, t: RenderTarget): Obj {
  const s = ctx.spec.service;
  const kustomization: Obj = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // The generators below must land in the service's namespace (and so match its references).
    namespace: ctx.namespace,
    resources: ['../../base'],
    labels: [
      {
        // The service label again: the base's labels do not reach this overlay's generators.
        pairs: {
          [MCML_LABELS.service]: s.name,
          [MCML_LABELS.target]: t.placement.target,
          [MCML_LABELS.cloud]: t.cloud,
        },
        includeTemplates: true,
      },
    ],
    patches: [
      { path: 'deployment-patch.yaml' },
      { path: 'service-patch.yaml' },
      { path: 'serviceaccount-patch.yaml' },
      { path: 'hpa-patch.yaml' },
    ],
  };
  if (t.image !== s.image) kustomization.images = [imageOverride(s.image, t.image)];
  return kustomization;
}

/** Kustomize's `images` entry that swaps the base image for the target's. */
function imageOverride(base: string, image: string): Obj {
  const { name } = splitImage(base);
  const next = splitImage(image);
  return {
    name,
    newName: next.name,
    ...(next.digest !== undefined ? { digest: next.digest } : { newTag: next.tag ?? 'latest' }),
  };
}

/**
 * Files only some overlays need — the edge, the front door, GKE's GPU exporter patch — each
 * also listed in the kustomization it is given.
 */
function overlayAddOns(
  ctx: RenderContext,
  t: RenderTarget,
  dir: string,
  kustomization: Obj,
): Record<string, string> {
  const files: Record<string, string> = {};
  if (wantsEdge(ctx)) {
    files[`${dir}/edge.yaml`] = yaml(edgeObjects(ctx, t));
    (kustomization.resources as string[]).push('edge.yaml');
  }
  if (wantsFrontDoor(ctx)) {
    Object.assign(files, frontDoorOverlay(ctx, t, dir));
    (kustomization.patches as Obj[]).push({ path: 'front-door-patch.yaml' });
    kustomization.configMapGenerator = [
      { name: FRONT_DOOR.name, files: ['mcml.yaml=front-door-mcml.yaml'] },
    ];
  }
  if (t.cloud === 'gcp' && ctx.spec.service.resources.gpu) {
    files[`${dir}/dcgm-exporter-patch.yaml`] = yaml([gkeDcgmPatch()]);
    (kustomization.patches as Obj[]).push({ path: 'dcgm-exporter-patch.yaml' });
  }
  return files;
}

/**
 * The patch of a Service the base makes a public load balancer: the cloud's annotations, or,
 * with TLS at the edge, ClusterIP (only the Gateway is public).
 */
function publicService(ctx: RenderContext, name: string, annotations: Record<string, string>): Obj {
  if (wantsEdge(ctx)) {
    return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'ClusterIP' } };
  }
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, annotations } };
}

/** The front door's spec, its preferred target and its load balancer's annotations. */
function frontDoorOverlay(
  ctx: RenderContext,
  t: RenderTarget,
  dir: string,
): Record<string, string> {
  const target = t.placement.target;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: FRONT_DOOR.name },
    spec: {
      template: {
        spec: { containers: [{ name: 'front-door', env: [{ name: 'TARGET', value: target }] }] },
      },
    },
  };
  const service = publicService(
    ctx,
    FRONT_DOOR.name,
    serviceAnnotations(ctx, t, frontDoorDnsLabel(ctx.spec.service.name, target)),
  );
  return {
    [`${dir}/front-door-mcml.yaml`]: frontDoorSpec(ctx, t),
    [`${dir}/front-door-patch.yaml`]: yaml([deployment, service]),
  };
}

function sortKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** `registry/repo:tag` or `repo@sha256:…` → its parts. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), digest: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { name: image };
}

/** Renders `k8s/base/*` and `k8s/overlays/<target>/*`. */
export function renderKubernetes(ctx: RenderContext): Record<string, string> {
  if (ctx.targets.length === 0) return {};
  const files = baseFiles(ctx);
  for (const t of ctx.targets) Object.assign(files, overlayFiles(ctx, t));
  return files;
}
