/**
 * The Grafana dashboard (`monitoring/grafana-dashboard.json`): one row of panels per question —
 * is traffic served, where does it go, is there capacity — then the GPUs and the front doors
 * when the service has them. Every query reads the recording rules or the series mcml exports.
 */
import type { RenderContext } from './context.js';
import { FRONT_DOOR, wantsFrontDoor } from './front-door.js';
import { FRONT_DOOR_LABELS, METRICS, promString } from './metric-names.js';

/** A panel before the dashboard numbers it. */
interface PanelSpec {
  title: string;
  type: 'timeseries' | 'stat';
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string; legendFormat: string }[];
  unit: string;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The dashboard as JSON, its panels numbered from 1 in layout order. */
export function grafanaDashboard(ctx: RenderContext): string {
  const specs = [
    ...trafficPanels(),
    ...failoverPanels(),
    ...capacityPanels(),
    ...(ctx.spec.service.resources.gpu ? gpuPanels() : []),
    ...(wantsFrontDoor(ctx) ? frontDoorPanels() : []),
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
    panels: specs.map((p, i) => panel(i + 1, p)),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** A Grafana panel on the dashboard's Prometheus, its queries lettered A, B, … */
function panel(id: number, p: PanelSpec): Record<string, unknown> {
  return {
    id,
    title: p.title,
    type: p.type,
    datasource: DATASOURCE,
    gridPos: p.gridPos,
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options:
      p.type === 'timeseries' ? { legend: { displayMode: 'table', placement: 'right' } } : {},
    targets: p.targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: t.expr,
      legendFormat: t.legendFormat,
    })),
  };
}

/** Requests, p99 latency and error ratio per cloud. */
function trafficPanels(): PanelSpec[] {
  return [
    {
      title: 'Requests/s by cloud',
      type: 'timeseries',
      gridPos: { x: 0, y: 0, w: 12, h: 8 },
      targets: [{ expr: 'cloud:mcml_requests:rate5m', legendFormat: '{{cloud}}' }],
      unit: 'reqps',
    },
    {
      title: 'p99 latency by cloud',
      type: 'timeseries',
      gridPos: { x: 12, y: 0, w: 12, h: 8 },
      targets: [{ expr: 'cloud:mcml_request_duration_seconds:p99_5m', legendFormat: '{{cloud}}' }],
      unit: 's',
    },
    {
      title: 'Error ratio by cloud',
      type: 'timeseries',
      gridPos: { x: 0, y: 8, w: 12, h: 8 },
      targets: [{ expr: 'cloud:mcml_request_errors:ratio_rate5m', legendFormat: '{{cloud}}' }],
      unit: 'percentunit',
    },
  ];
}

/** Where traffic goes: the active target, which targets are up, failovers in the last hour. */
function failoverPanels(): PanelSpec[] {
  return [
    {
      title: 'Active target',
      type: 'stat',
      gridPos: { x: 12, y: 8, w: 6, h: 4 },
      targets: [{ expr: `${METRICS.activeTarget} == 1`, legendFormat: '{{target}}' }],
      unit: 'none',
    },
    {
      title: 'Targets up',
      type: 'stat',
      gridPos: { x: 18, y: 8, w: 6, h: 4 },
      targets: [{ expr: METRICS.targetUp, legendFormat: '{{target}}' }],
      unit: 'none',
    },
    {
      title: 'Failovers (1h)',
      type: 'stat',
      gridPos: { x: 12, y: 12, w: 12, h: 4 },
      targets: [{ expr: `sum(increase(${METRICS.failovers}[1h]))`, legendFormat: 'failovers' }],
      unit: 'none',
    },
  ];
}

/** Ready replicas per target; batch size and queue depth per cloud. */
function capacityPanels(): PanelSpec[] {
  return [
    {
      title: 'Ready replicas by target',
      type: 'timeseries',
      gridPos: { x: 0, y: 16, w: 12, h: 8 },
      targets: [
        { expr: 'target:mcml_ready_replicas:count', legendFormat: '{{target}} ({{cloud}})' },
      ],
      unit: 'none',
    },
    {
      title: 'Batch size and queue depth',
      type: 'timeseries',
      gridPos: { x: 12, y: 16, w: 12, h: 8 },
      targets: [
        {
          expr: `sum by (cloud) (rate(${METRICS.batchSize}_sum[5m])) / sum by (cloud) (rate(${METRICS.batchSize}_count[5m]))`,
          legendFormat: 'mean batch {{cloud}}',
        },
        { expr: `sum by (cloud) (${METRICS.queueDepth})`, legendFormat: 'queue {{cloud}}' },
      ],
      unit: 'none',
    },
  ];
}

/** GPU utilisation, memory and temperature per target (from the DCGM recording rules). */
function gpuPanels(): PanelSpec[] {
  const byTarget = '{{target}} ({{cloud}})';
  return [
    {
      title: 'GPU utilisation by target',
      type: 'timeseries',
      gridPos: { x: 0, y: 24, w: 8, h: 8 },
      targets: [{ expr: 'target:mcml_gpu_utilization:avg', legendFormat: byTarget }],
      unit: 'percent',
    },
    {
      title: 'GPU memory used',
      type: 'timeseries',
      gridPos: { x: 8, y: 24, w: 8, h: 8 },
      targets: [{ expr: 'target:mcml_gpu_memory_used:ratio', legendFormat: byTarget }],
      unit: 'percentunit',
    },
    {
      title: 'GPU temperature (hottest)',
      type: 'timeseries',
      gridPos: { x: 16, y: 24, w: 8, h: 8 },
      targets: [{ expr: 'target:mcml_gpu_temperature_celsius:max', legendFormat: byTarget }],
      unit: 'celsius',
    },
  ];
}

/** The in-cluster front doors: their traffic by status, and where each sends it. */
function frontDoorPanels(): PanelSpec[] {
  const fd = `job=${promString(FRONT_DOOR.job)}`;
  return [
    {
      title: 'Front doors: requests/s by cluster and status',
      type: 'timeseries',
      gridPos: { x: 0, y: 32, w: 12, h: 8 },
      targets: [
        {
          expr: `sum by (${FRONT_DOOR_LABELS.target}, code) (rate(${METRICS.proxyRequests}{${fd}}[5m]))`,
          legendFormat: `{{${FRONT_DOOR_LABELS.target}}} {{code}}`,
        },
      ],
      unit: 'reqps',
    },
    {
      title: 'Front doors: where each sends traffic',
      type: 'stat',
      gridPos: { x: 12, y: 32, w: 12, h: 8 },
      targets: [
        {
          expr: `${METRICS.activeTarget}{${fd}} == 1`,
          legendFormat: `{{${FRONT_DOOR_LABELS.target}}} → {{target}}`,
        },
      ],
      unit: 'none',
    },
  ];
}
