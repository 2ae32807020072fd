/**
 * Monitoring for every cloud at once: a small Prometheus in each cluster scrapes the service's
 * pods; a global Prometheus federates each of them through that cluster's API server (via
 * `kubectl proxy`, so the credentials are the user's kubeconfig and nothing secret lands in a
 * file), labelled with `cloud`, `region` and `target`; with the in-cluster front door, its
 * pods too, their series labelled `front_door` (and `front_door_cloud`) with the cluster they
 * run in; recording and alerting rules; a Grafana dashboard.
 * Metric names are those `mcml serve` and `mcml failover` export.
 */
import { stringify } from 'yaml';
import { durationMs } from '../spec/parse.js';
import type { Spec } from '../spec/schema.js';
import type { RenderContext } from './context.js';
import { FRONT_DOOR, frontDoorPodsService, wantsFrontDoor } from './front-door.js';
import { grafanaDashboard } from './grafana-dashboard.js';
import { DCGM_METRICS, FRONT_DOOR_LABELS, METRICS, promString } from './metric-names.js';

/** First local port of the per-cluster `kubectl proxy`es; target i (in tier order) gets +i. */
export const PROXY_BASE_PORT = 18001;

/** NVIDIA's DCGM exporter, one per GPU node (k8s/base/dcgm-exporter.yaml). */
export const DCGM_EXPORTER = {
  name: 'mcml-dcgm-exporter',
  image: 'nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04',
  port: 9400,
  job: 'dcgm',
} as const;

/** A target as the alert rules see it. */
export interface RuleTarget {
  target: string;
  cloud: string;
}

/** Routes that are not inference traffic. */
const NOT_TRAFFIC = 'route!~"/metrics|/health|/v2/health/.*"';

function promDuration(value: string | number): string {
  const ms = durationMs(value);
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function contextOf(ctx: RenderContext, i: number): string {
  const p = ctx.targets[i]!.placement;
  return p.context ?? p.target;
}

/**
 * The failover controller mode `both` runs outside the clusters (it writes DNS), for the global
 * Prometheus to scrape directly; the in-cluster front doors are federated instead.
 */
function controllerAddress(ctx: RenderContext): string | undefined {
  const f = ctx.spec.failover;
  if (f.mode !== 'both') return undefined;
  const host =
    f.frontDoor.host === '0.0.0.0' || f.frontDoor.host === '::' ? '127.0.0.1' : f.frontDoor.host;
  return `${host.includes(':') ? `[${host}]` : host}:${f.frontDoor.port}`;
}

/** The Prometheus that runs in every cluster (k8s/base/prometheus.yaml). */
export const CLUSTER_PROMETHEUS = {
  name: 'mcml-prometheus',
  image: 'quay.io/prometheus/prometheus:v3.5.0',
  port: 9090,
  job: 'mcml',
} as const;

/** The headless Service whose DNS name lists the DCGM exporters (GPU services only). */
export function dcgmServiceName(): string {
  return DCGM_EXPORTER.name;
}

/** The headless Service whose DNS name lists the service's ready pods. */
export function headlessServiceName(ctx: RenderContext): string {
  return `${ctx.spec.service.name}-pods`;
}

/**
 * The in-cluster Prometheus config: finds the service's pods through the headless Service's
 * DNS name (no API access, no RBAC) and scrapes them; the series carry cloud/region/target
 * from the server itself.
 */
export function clusterPrometheusConfig(ctx: RenderContext): string {
  const interval = promDuration(ctx.spec.monitoring.scrapeInterval);
  const byDns = (job: string, service: string, port: number, path = '/metrics') => ({
    job_name: job,
    metrics_path: path,
    dns_sd_configs: [
      {
        names: [`${service}.${ctx.namespace}.svc.cluster.local`],
        type: 'A',
        port,
        refresh_interval: interval,
      },
    ],
  });
  const jobs = [byDns(CLUSTER_PROMETHEUS.job, headlessServiceName(ctx), ctx.spec.service.port)];
  if (ctx.spec.service.resources.gpu) {
    jobs.push(byDns(DCGM_EXPORTER.job, dcgmServiceName(), DCGM_EXPORTER.port));
  }
  if (wantsFrontDoor(ctx)) {
    jobs.push(
      byDns(FRONT_DOOR.job, frontDoorPodsService(), FRONT_DOOR.port, FRONT_DOOR.metricsPath),
    );
  }
  return stringify(
    { global: { scrape_interval: interval, evaluation_interval: interval }, scrape_configs: jobs },
    { lineWidth: 0 },
  );
}

/** The jobs the global Prometheus federates from each cluster's Prometheus. */
function federatedJobs(ctx: RenderContext): string[] {
  return [
    CLUSTER_PROMETHEUS.job,
    ...(ctx.spec.service.resources.gpu ? [DCGM_EXPORTER.job] : []),
    ...(wantsFrontDoor(ctx) ? [FRONT_DOOR.job] : []),
  ];
}

/**
 * A front door's series keep their own `target` and `cloud` (the upstream they are about, as
 * the local front door's do); these add which cluster's front door reported them.
 */
function frontDoorRelabel(target: string, cloud: string): Record<string, unknown>[] {
  return [
    [FRONT_DOOR_LABELS.target, target],
    [FRONT_DOOR_LABELS.cloud, cloud],
  ].map(([label, value]) => ({
    source_labels: ['job'],
    regex: FRONT_DOOR.job,
    target_label: label,
    replacement: value,
  }));
}

function prometheusConfig(ctx: RenderContext): string {
  const jobs: Record<string, unknown>[] = ctx.targets.map((t, i) => {
    const p = t.placement;
    return {
      // Federation: each cluster's own Prometheus (k8s/base/prometheus.yaml) scrapes its
      // pods; this one reads it through that cluster's API server (its service proxy), via a
      // local `kubectl proxy` that authenticates with the user's kubeconfig context.
      job_name: `mcml-${p.target}`,
      honor_labels: true,
      metrics_path: `/api/v1/namespaces/${ctx.namespace}/services/${CLUSTER_PROMETHEUS.name}:${CLUSTER_PROMETHEUS.port}/proxy/federate`,
      params: { 'match[]': federatedJobs(ctx).map((job) => `{job="${job}"}`) },
      static_configs: [
        {
          targets: [`127.0.0.1:${PROXY_BASE_PORT + i}`],
          labels: {
            cloud: t.cloud,
            region: p.region,
            target: p.target,
            kube_context: contextOf(ctx, i),
          },
        },
      ],
      ...(wantsFrontDoor(ctx)
        ? { metric_relabel_configs: frontDoorRelabel(p.target, t.cloud) }
        : {}),
    };
  });
  const frontDoor = controllerAddress(ctx);
  if (frontDoor !== undefined) {
    jobs.push({
      job_name: 'mcml-failover',
      metrics_path: '/_mcml/metrics',
      static_configs: [{ targets: [frontDoor], labels: { component: 'failover' } }],
    });
  }
  const interval = promDuration(ctx.spec.monitoring.scrapeInterval);
  return stringify(
    {
      global: {
        scrape_interval: interval,
        evaluation_interval: interval,
        external_labels: { mcml_service: ctx.spec.service.name },
      },
      rule_files: ['rules.yml'],
      scrape_configs: jobs,
    },
    { lineWidth: 0 },
  );
}

function proxiesScript(ctx: RenderContext): string {
  const lines = [
    '#!/usr/bin/env sh',
    '# Starts one `kubectl proxy` per cluster on the ports prometheus.yml scrapes through.',
    '# Each uses your kubeconfig context for the target (see `terraform output kubeconfig_commands`).',
    '# Stop them with: kill $(cat .proxies.pid)',
    'set -eu',
    'cd "$(dirname "$0")"',
    ': > .proxies.pid',
  ];
  ctx.targets.forEach((t, i) => {
    const port = PROXY_BASE_PORT + i;
    lines.push(
      `kubectl --context ${shellQuote(contextOf(ctx, i))} proxy --address 127.0.0.1 --port ${port} >proxy-${t.placement.target}.log 2>&1 &`,
      'echo $! >> .proxies.pid',
    );
  });
  lines.push('echo "kubectl proxies started; now run: prometheus --config.file=prometheus.yml"');
  return lines.join('\n') + '\n';
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_.:@/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** GPU alert thresholds (DCGM): hotter than this throttles; fuller than this fails to allocate. */
const GPU_LIMITS = { temperatureCelsius: 85, memoryRatio: 0.95, idleUtilizationPercent: 5 };

function recordingRules(gpu: boolean): Record<string, unknown>[] {
  const m = METRICS;
  const byCloudRate = (extra: string) =>
    `sum by (cloud) (rate(${m.requests}{${NOT_TRAFFIC}${extra}}[5m]))`;
  const rules: Record<string, unknown>[] = [
    { record: 'cloud:mcml_requests:rate5m', expr: byCloudRate('') },
    {
      record: 'cloud:mcml_request_errors:ratio_rate5m',
      expr: `${byCloudRate(',status=~"5.."')}\n/\n${byCloudRate('')}`,
    },
    {
      record: 'cloud:mcml_request_duration_seconds:p99_5m',
      expr: `histogram_quantile(0.99, sum by (cloud, le) (rate(${m.duration}_bucket{${NOT_TRAFFIC}}[5m])))`,
    },
    {
      record: 'target:mcml_requests:rate5m',
      expr: `sum by (cloud, target) (rate(${m.requests}{${NOT_TRAFFIC}}[5m]))`,
    },
    {
      record: 'target:mcml_ready_replicas:count',
      expr: `count by (cloud, target) (${m.serverReady} == 1)`,
    },
  ];
  if (!gpu) return rules;
  const d = DCGM_METRICS;
  return [
    ...rules,
    {
      record: 'target:mcml_gpu_utilization:avg',
      expr: `avg by (cloud, target) (${d.utilization})`,
    },
    {
      record: 'target:mcml_gpu_memory_used:ratio',
      expr: `sum by (cloud, target) (${d.memoryUsed})\n/\nsum by (cloud, target) (${d.memoryUsed} + ${d.memoryFree})`,
    },
    {
      record: 'target:mcml_gpu_temperature_celsius:max',
      expr: `max by (cloud, target) (${d.temperature})`,
    },
  ];
}

/**
 * One rule per target: `absent()` of a ready replica is true when every pod is down, when the
 * cluster's Prometheus cannot be reached and when the target never reported, so the alert
 * has a series to fire on in exactly the cases a `sum(...) == 0` has none (headless discovery
 * lists ready pods only).
 */
function noReadyReplicaRules(
  spec: Spec,
  targets: readonly RuleTarget[],
): Record<string, unknown>[] {
  const downFor = promDuration(spec.monitoring.alerts.downFor);
  return targets.map((t) => ({
    alert: 'McmlNoReadyReplica',
    expr: `absent(${METRICS.serverReady}{target=${promString(t.target)}} == 1)`,
    for: downFor,
    labels: { severity: 'critical', cloud: t.cloud, target: t.target },
    annotations: {
      summary: `No ready replica of ${t.target} (${t.cloud}), or its cluster cannot be reached`,
      description: `No replica of ${t.target} has reported ready for ${downFor}.`,
    },
  }));
}

/**
 * Per cluster running a front door: none answering (absent, as for the service's replicas: a
 * crashed pod leaves discovery, and an unreachable cluster reports nothing), and one answering
 * with no tier to send traffic to (it is then unready, and DNS moves clients on).
 */
function frontDoorRules(spec: Spec, frontDoors: readonly RuleTarget[]): Record<string, unknown>[] {
  const downFor = promDuration(spec.monitoring.alerts.downFor);
  const of = (t: RuleTarget) =>
    `job=${promString(FRONT_DOOR.job)},${FRONT_DOOR_LABELS.target}=${promString(t.target)}`;
  const labels = (t: RuleTarget) => ({
    severity: 'critical',
    cloud: t.cloud,
    target: t.target,
    [FRONT_DOOR_LABELS.target]: t.target,
  });
  return frontDoors.flatMap((t) => [
    {
      alert: 'McmlFrontDoorDown',
      expr: `absent(up{${of(t)}} == 1)`,
      for: downFor,
      labels: labels(t),
      annotations: {
        summary: `No front door answers in ${t.target}'s cluster (${t.cloud}), or the cluster cannot be reached`,
        description: `No front door pod of ${t.target} has been scraped for ${downFor}; the DNS failover records send its clients to the next tier's front door.`,
      },
    },
    {
      alert: 'McmlFrontDoorNoTier',
      expr: `max(${METRICS.activeTarget}{${of(t)}}) == 0`,
      for: downFor,
      labels: labels(t),
      annotations: {
        summary: `The front door in ${t.target}'s cluster (${t.cloud}) has no healthy tier to send traffic to`,
        description: `Every target is down as seen from ${t.target}'s cluster for ${downFor}.`,
      },
    },
  ]);
}

function gpuAlerts(): Record<string, unknown>[] {
  const g = GPU_LIMITS;
  return [
    {
      alert: 'McmlGpuHot',
      expr: `max by (cloud, target, Hostname, gpu) (${DCGM_METRICS.temperature}) > ${g.temperatureCelsius}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `GPU {{ $labels.gpu }} on {{ $labels.Hostname }} ({{ $labels.target }}) is above ${g.temperatureCelsius} °C`,
        description: 'It is at {{ $value }} °C and will throttle.',
      },
    },
    {
      alert: 'McmlGpuMemoryFull',
      expr: `target:mcml_gpu_memory_used:ratio > ${g.memoryRatio}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `GPU memory of {{ $labels.target }} ({{ $labels.cloud }}) is over ${g.memoryRatio * 100}% used`,
        description: 'Used: {{ $value | humanizePercentage }}.',
      },
    },
    {
      alert: 'McmlGpuIdle',
      expr: `target:mcml_gpu_utilization:avg < ${g.idleUtilizationPercent}`,
      for: '1h',
      labels: { severity: 'info' },
      annotations: {
        summary: `The GPUs of {{ $labels.target }} ({{ $labels.cloud }}) are idle but paid for`,
        description:
          'Average utilisation {{ $value }}% for an hour: fewer replicas or a CPU target may do.',
      },
    },
  ];
}

/**
 * The recording and alerting rules for these targets (`monitoring/rules.yml`; `mcml up` writes
 * the same for its local targets). `frontDoors`: the clusters running an in-cluster front door,
 * whose series carry `front_door` (render only).
 */
export function alertRules(
  spec: Spec,
  targets: readonly RuleTarget[],
  frontDoors: readonly RuleTarget[] = [],
): string {
  const a = spec.monitoring.alerts;
  const m = METRICS;
  const gpu = spec.service.resources.gpu !== undefined;
  const pct = (x: number) => `${Math.round(x * 10000) / 100}%`;
  const alerts = [
    {
      alert: 'McmlTargetDown',
      expr: `max by (target) (${m.targetUp}) == 0`,
      for: '1m',
      labels: { severity: 'critical' },
      annotations: {
        summary: 'Target {{ $labels.target }} fails its health checks',
        description: 'The failover controller has marked {{ $labels.target }} down for 1 minute.',
      },
    },
    ...noReadyReplicaRules(spec, targets),
    {
      alert: 'McmlHighErrorRatio',
      expr: `cloud:mcml_request_errors:ratio_rate5m > ${a.errorRatio}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `More than ${pct(a.errorRatio)} of requests on {{ $labels.cloud }} fail`,
        description: 'Error ratio is {{ $value | humanizePercentage }} over 5 minutes.',
      },
    },
    {
      alert: 'McmlHighP99Latency',
      expr: `cloud:mcml_request_duration_seconds:p99_5m > ${a.p99LatencyMs / 1000}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `p99 latency on {{ $labels.cloud }} is above ${a.p99LatencyMs} ms`,
        description: 'p99 is {{ $value | humanizeDuration }} over 5 minutes.',
      },
    },
    {
      alert: 'McmlFailover',
      expr: `increase(${m.failovers}[5m]) > 0`,
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'Traffic failed over from {{ $labels.from }} to {{ $labels.to }}{{ with $labels.front_door }} (front door in {{ . }}){{ end }}',
        description: 'Reason: {{ $labels.reason }}.',
      },
    },
    {
      alert: 'McmlNoActiveTarget',
      expr: `max(${m.activeTarget}) == 0`,
      for: '1m',
      labels: { severity: 'critical' },
      annotations: { summary: 'The failover controller has no healthy target to send traffic to' },
    },
    ...frontDoorRules(spec, frontDoors),
    ...(gpu ? gpuAlerts() : []),
  ];
  return stringify(
    {
      groups: [
        { name: 'mcml-recording', rules: recordingRules(gpu) },
        { name: 'mcml-alerts', rules: alerts },
      ],
    },
    { lineWidth: 0 },
  );
}

function rules(ctx: RenderContext): string {
  const targets = ctx.targets.map((t) => ({ target: t.placement.target, cloud: t.cloud }));
  return alertRules(ctx.spec, targets, wantsFrontDoor(ctx) ? targets : []);
}

/** Renders `monitoring/*`; the Grafana dashboard only when `monitoring.grafana` is on. */
export function renderMonitoring(ctx: RenderContext): Record<string, string> {
  if (ctx.targets.length === 0) return {};
  const files: Record<string, string> = {
    'monitoring/prometheus.yml': prometheusConfig(ctx),
    'monitoring/rules.yml': rules(ctx),
    'monitoring/start-proxies.sh': proxiesScript(ctx),
  };
  if (ctx.spec.monitoring.grafana)
    files['monitoring/grafana-dashboard.json'] = grafanaDashboard(ctx);
  return files;
}
