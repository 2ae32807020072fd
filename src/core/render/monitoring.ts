/**
 * Monitoring for every cloud at once: a small Prometheus in each cluster scrapes the service's
 * pods; a global Prometheus federates each of them through that cluster's API server (via
 * `kubectl proxy`, so the credentials are the user's kubeconfig and nothing secret lands in a
 * file), labelled with `cloud`, `region` and `target`; recording and alerting rules; a Grafana
 * dashboard.
 * Metric names are those `mcml serve` and `mcml failover` export.
 */
import { stringify } from 'yaml';
import { durationMs } from '../spec/parse.js';
import type { RenderContext } from './context.js';

/** First local port of the per-cluster `kubectl proxy`es; target i (in tier order) gets +i. */
export const PROXY_BASE_PORT = 18001;

/** Metric names exported by `mcml serve` (src/apps/serve/metrics.ts) and the failover controller. */
export const METRICS = {
  requests: 'mcml_http_requests_total',
  duration: 'mcml_http_request_duration_seconds',
  batchSize: 'mcml_inference_batch_size',
  inference: 'mcml_inference_duration_seconds',
  queueDepth: 'mcml_inference_queue_depth',
  serverReady: 'mcml_server_ready',
  targetUp: 'mcml_target_up',
  activeTarget: 'mcml_active_target',
  failovers: 'mcml_failovers_total',
} as const;

/** Routes that are not inference traffic. */
const NOT_TRAFFIC = 'route!~"/metrics|/health|/v2/health/.*"';

function promDuration(value: string | number): string {
  const ms = durationMs(value);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function contextOf(ctx: RenderContext, i: number): string {
  const p = ctx.targets[i]!.placement;
  return p.context ?? p.target;
}

function frontDoorAddress(ctx: RenderContext): string | undefined {
  const f = ctx.spec.failover;
  if (f.mode === 'dns') return undefined;
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
  return stringify(
    {
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: [
        {
          job_name: CLUSTER_PROMETHEUS.job,
          metrics_path: '/metrics',
          dns_sd_configs: [
            {
              names: [`${headlessServiceName(ctx)}.${ctx.namespace}.svc.cluster.local`],
              type: 'A',
              port: ctx.spec.service.port,
              refresh_interval: interval,
            },
          ],
        },
      ],
    },
    { lineWidth: 0 },
  );
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
      params: { 'match[]': [`{job="${CLUSTER_PROMETHEUS.job}"}`] },
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
    };
  });
  const frontDoor = frontDoorAddress(ctx);
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

function rules(ctx: RenderContext): string {
  const a = ctx.spec.monitoring.alerts;
  const m = METRICS;
  const byCloudRate = (extra: string) =>
    `sum by (cloud) (rate(${m.requests}{${NOT_TRAFFIC}${extra}}[5m]))`;
  const recording = [
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
    {
      alert: 'McmlNoReadyReplica',
      expr: `sum by (cloud, target) (${m.serverReady}) == 0 or sum by (cloud, target) (up{job=~"mcml-.+", job!="mcml-failover"}) == 0`,
      for: '2m',
      labels: { severity: 'critical' },
      annotations: {
        summary:
          'No ready replica of {{ $labels.target }} ({{ $labels.cloud }}), or its cluster cannot be reached',
      },
    },
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
        summary: 'Traffic failed over from {{ $labels.from }} to {{ $labels.to }}',
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
  ];
  return stringify(
    {
      groups: [
        { name: 'mcml-recording', rules: recording },
        { name: 'mcml-alerts', rules: alerts },
      ],
    },
    { lineWidth: 0 },
  );
}

function dashboard(ctx: RenderContext): string {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  let id = 0;
  const panel = (
    title: string,
    type: string,
    gridPos: { x: number; y: number; w: number; h: number },
    targets: { expr: string; legendFormat: string }[],
    unit: string,
  ) => ({
    id: ++id,
    title,
    type,
    datasource: ds,
    gridPos,
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: type === 'timeseries' ? { legend: { displayMode: 'table', placement: 'right' } } : {},
    targets: targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      expr: t.expr,
      legendFormat: t.legendFormat,
    })),
  });
  const panels = [
    panel(
      'Requests/s by cloud',
      'timeseries',
      { x: 0, y: 0, w: 12, h: 8 },
      [{ expr: 'cloud:mcml_requests:rate5m', legendFormat: '{{cloud}}' }],
      'reqps',
    ),
    panel(
      'p99 latency by cloud',
      'timeseries',
      { x: 12, y: 0, w: 12, h: 8 },
      [{ expr: 'cloud:mcml_request_duration_seconds:p99_5m', legendFormat: '{{cloud}}' }],
      's',
    ),
    panel(
      'Error ratio by cloud',
      'timeseries',
      { x: 0, y: 8, w: 12, h: 8 },
      [{ expr: 'cloud:mcml_request_errors:ratio_rate5m', legendFormat: '{{cloud}}' }],
      'percentunit',
    ),
    panel(
      'Active target',
      'stat',
      { x: 12, y: 8, w: 6, h: 4 },
      [{ expr: `${METRICS.activeTarget} == 1`, legendFormat: '{{target}}' }],
      'none',
    ),
    panel(
      'Targets up',
      'stat',
      { x: 18, y: 8, w: 6, h: 4 },
      [{ expr: METRICS.targetUp, legendFormat: '{{target}}' }],
      'none',
    ),
    panel(
      'Failovers (1h)',
      'stat',
      { x: 12, y: 12, w: 12, h: 4 },
      [{ expr: `sum(increase(${METRICS.failovers}[1h]))`, legendFormat: 'failovers' }],
      'none',
    ),
    panel(
      'Ready replicas by target',
      'timeseries',
      { x: 0, y: 16, w: 12, h: 8 },
      [{ expr: 'target:mcml_ready_replicas:count', legendFormat: '{{target}} ({{cloud}})' }],
      'none',
    ),
    panel(
      'Batch size and queue depth',
      'timeseries',
      { x: 12, y: 16, w: 12, h: 8 },
      [
        {
          expr: `sum by (cloud) (rate(${METRICS.batchSize}_sum[5m])) / sum by (cloud) (rate(${METRICS.batchSize}_count[5m]))`,
          legendFormat: 'mean batch {{cloud}}',
        },
        { expr: `sum by (cloud) (${METRICS.queueDepth})`, legendFormat: 'queue {{cloud}}' },
      ],
      'none',
    ),
  ];
  const doc = {
    title: `mcml: ${ctx.spec.service.name}`,
    uid: `mcml-${ctx.spec.service.name}`.slice(0, 40),
    tags: ['mcml'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
      ],
    },
    panels,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** Renders `monitoring/*`; the Grafana dashboard only when `monitoring.grafana` is on. */
export function renderMonitoring(ctx: RenderContext): Record<string, string> {
  if (ctx.targets.length === 0) return {};
  const files: Record<string, string> = {
    'monitoring/prometheus.yml': prometheusConfig(ctx),
    'monitoring/rules.yml': rules(ctx),
    'monitoring/start-proxies.sh': proxiesScript(ctx),
  };
  if (ctx.spec.monitoring.grafana) files['monitoring/grafana-dashboard.json'] = dashboard(ctx);
  return files;
}
