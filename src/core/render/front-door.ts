/**
 * The failover front door as a workload in every cluster (front-door and both modes): the
 * same image runs `mcml failover run --prefer <its target>`, so each cluster's front door
 * sends traffic to its own service first (in-cluster, no load balancer hop), then to the next
 * tiers through their public endpoints. The DNS failover records point at the front doors, so
 * no single machine sits in the path. The admin token comes from a Secret the user creates;
 * it is never in a rendered file.
 */
import { stringify } from 'yaml';
import type { RenderContext, RenderTarget } from './context.js';
import { fit } from './names.js';

type Obj = Record<string, unknown>;

/** Names and ports of the in-cluster front door. */
export const FRONT_DOOR = {
  name: 'mcml-front-door',
  /** Container port (`failover run --port`). */
  port: 8080,
  /** The Secret (key `token`) holding the admin bearer token; optional: admin off without it. */
  adminSecret: 'mcml-front-door-admin',
  /** Where the ConfigMap with the front door's spec is mounted. */
  specDir: '/etc/mcml',
  /** Its metrics (`mcml failover run`'s admin routes). */
  metricsPath: '/_mcml/metrics',
  /** The cluster Prometheus job that scrapes it (federated with the service's jobs). */
  job: 'mcml-front-door',
} as const;

/** The headless Service whose DNS name lists the front door's pods (ready or not). */
export function frontDoorPodsService(): string {
  return `${FRONT_DOOR.name}-pods`;
}

/** Whether render writes the in-cluster front door: the spec routes through one. */
export function wantsFrontDoor(ctx: RenderContext): boolean {
  return ctx.spec.failover.mode !== 'dns';
}

/** The in-cluster URL of the service (its Service's port 80). */
export function inClusterUrl(ctx: RenderContext): string {
  return `http://${ctx.spec.service.name}.${ctx.namespace}.svc.cluster.local`;
}

/** The container argv after the image's ENTRYPOINT; `$(TARGET)` is expanded by the kubelet. */
export function frontDoorArgs(): string[] {
  return [
    'failover',
    'run',
    '-f',
    `${FRONT_DOOR.specDir}/mcml.yaml`,
    '--host',
    '0.0.0.0',
    '--port',
    String(FRONT_DOOR.port),
    '--prefer',
    '$(TARGET)',
  ];
}

function endpointOf(t: RenderTarget): string | undefined {
  return t.placement.endpoint ?? t.target.endpoint;
}

/** Targets the front door of `own` cannot route to: no public endpoint known yet. */
export function unreachableFrom(ctx: RenderContext, own: RenderTarget): string[] {
  return ctx.targets
    .filter((t) => t !== own && endpointOf(t) === undefined)
    .map((t) => t.placement.target);
}

/** Render warnings: front doors that cannot reach some tiers yet. */
export function frontDoorWarnings(ctx: RenderContext): string[] {
  if (!wantsFrontDoor(ctx)) return [];
  const missing = ctx.targets
    .filter((t) => endpointOf(t) === undefined)
    .map((t) => t.placement.target);
  if (missing.length === 0 || ctx.targets.length < 2) return [];
  return [
    `front door: ${missing.join(', ')} ha${missing.length === 1 ? 's' : 've'} no endpoint, so the other clusters' front doors cannot fail over to ${missing.length === 1 ? 'it' : 'them'}; set targets[].endpoint (the service's load balancer) and render again`,
  ];
}

/**
 * The spec the front door of `own` runs: its own target at the in-cluster Service, the others
 * at their endpoints, front-door mode only (the rendered DNS records do DNS; several front
 * doors writing one record would fight).
 */
export function frontDoorSpec(ctx: RenderContext, own: RenderTarget): string {
  const s = ctx.spec.service;
  const f = ctx.spec.failover;
  const targets = ctx.targets
    .filter((t) => t === own || endpointOf(t) !== undefined)
    .map((t) => ({
      name: t.placement.target,
      provider: t.cloud,
      region: t.placement.region,
      tier: t.placement.tier,
      weight: t.target.weight,
      endpoint: t === own ? inClusterUrl(ctx) : endpointOf(t)!,
      ...(t !== own && t.target.probes !== undefined ? { probes: t.target.probes } : {}),
    }));
  const { dns: _dns, ...failover } = f;
  void _dns;
  const doc = {
    version: 1,
    service: {
      name: s.name,
      port: s.port,
      model: { uri: s.model.uri, name: s.model.name },
      resources: { cpu: s.resources.cpu, memory: s.resources.memory },
      healthPath: s.healthPath,
    },
    targets,
    failover: {
      ...failover,
      mode: 'front-door',
      frontDoor: { ...f.frontDoor, host: '0.0.0.0', port: FRONT_DOOR.port },
    },
  };
  return [
    `# The failover front door in ${own.placement.target}'s cluster (mcml failover run --prefer ${own.placement.target}).`,
    '# Written by mcml render; edit mcml.yaml and render again instead.',
    stringify(doc, { lineWidth: 0 }),
  ].join('\n');
}

/** What the front door's pods need from the service's Deployment. */
interface FrontDoorPodOptions {
  image: string;
  uid: number;
  preStopSeconds: number;
}

const frontDoorLabels = (): Obj => ({
  'app.kubernetes.io/name': FRONT_DOOR.name,
  'app.kubernetes.io/part-of': 'mcml',
});
const frontDoorSelector = (): Obj => ({ 'app.kubernetes.io/name': FRONT_DOOR.name });

/** The base Deployment, Service and PodDisruptionBudget of the front door. */
export function frontDoorObjects(ctx: RenderContext, opts: FrontDoorPodOptions): Obj[] {
  const name = FRONT_DOOR.name;
  const labels = frontDoorLabels();
  return [
    frontDoorDeployment(ctx, opts),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels },
      spec: {
        type: 'LoadBalancer',
        selector: frontDoorSelector(),
        ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: frontDoorPodsService(), labels },
      spec: {
        // Headless, for the cluster Prometheus: its DNS name lists every front door pod, the
        // unready ones too (a front door with no healthy tier is unready, and its metrics are
        // what says so).
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: frontDoorSelector(),
        ports: [{ name: 'http', port: FRONT_DOOR.port, targetPort: 'http', protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: frontDoorSelector() } },
    },
  ];
}

/** Two front doors per cluster, spread over zones, scraped by the cluster Prometheus. */
function frontDoorDeployment(ctx: RenderContext, opts: FrontDoorPodOptions): Obj {
  const name = FRONT_DOOR.name;
  const labels = frontDoorLabels();
  const selector = frontDoorSelector();
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(FRONT_DOOR.port),
            'prometheus.io/path': FRONT_DOOR.metricsPath,
          },
        },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: opts.uid,
            runAsGroup: opts.uid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector },
            },
          ],
          containers: [frontDoorContainer(ctx, opts)],
          volumes: [{ name: 'spec', configMap: { name } }],
        },
      },
    },
  };
}

/** `mcml failover run` reading its spec from the ConfigMap, ready while some tier is healthy. */
function frontDoorContainer(ctx: RenderContext, opts: FrontDoorPodOptions): Obj {
  return {
    name: 'front-door',
    image: opts.image,
    args: frontDoorArgs(),
    ports: [{ name: 'http', containerPort: FRONT_DOOR.port, protocol: 'TCP' }],
    env: [
      // The overlay sets TARGET: the target this front door prefers.
      {
        name: ctx.spec.failover.frontDoor.adminTokenEnv,
        valueFrom: {
          secretKeyRef: { name: FRONT_DOOR.adminSecret, key: 'token', optional: true },
        },
      },
    ],
    // Ready while some tier is healthy: the health path is proxied to the active
    // target, so a front door with nowhere to send traffic leaves its Service and
    // the DNS failover records move to the next cluster.
    readinessProbe: {
      httpGet: { path: ctx.spec.service.healthPath, port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 3,
      failureThreshold: 2,
    },
    livenessProbe: {
      httpGet: { path: '/_mcml/status', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    lifecycle: { preStop: { sleep: { seconds: opts.preStopSeconds } } },
    resources: {
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '512Mi' },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: 'spec', mountPath: FRONT_DOOR.specDir, readOnly: true }],
  };
}

/** Azure's DNS label of the front door's load balancer: label.region.cloudapp.azure.com. */
export function frontDoorDnsLabel(service: string, target: string): string {
  return fit(`${service}-${target}-fd`, 63);
}
