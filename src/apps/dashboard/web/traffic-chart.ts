/** The traffic chart: requests per second of each target, a colour per target. */
import { html } from 'htm/preact';
import uPlot from 'uplot';
import type { DashboardState, TargetView } from '../state.js';
import { useChart } from './chart.js';

const PALETTE = ['#7c5cff', '#22d3ee', '#f472b6', '#facc15', '#34d399', '#fb923c'];
const CLOUD_COLOR: Record<string, string> = {
  aws: '#ff9900',
  gcp: '#34d399',
  azure: '#38bdf8',
  local: '#a78bfa',
};

function seriesColors(targets: TargetView[]): Record<string, string> {
  const byCloud = new Map<string, number>();
  for (const t of targets) byCloud.set(t.cloud, (byCloud.get(t.cloud) ?? 0) + 1);
  const colors: Record<string, string> = {};
  targets.forEach((t, i) => {
    const cloud = CLOUD_COLOR[t.cloud];
    colors[t.name] = cloud && byCloud.get(t.cloud) === 1 ? cloud : PALETTE[i % PALETTE.length]!;
  });
  return colors;
}

/** The traffic card: the chart, redrawn on every state, and a legend of the targets. */
export function TrafficChart(props: { state: DashboardState }) {
  const names = props.state.targets.map((t) => t.name);
  const colors = seriesColors(props.state.targets);
  const box = useChart(
    names.join(','),
    (el) =>
      new uPlot(chartOptions(names, colors, el.clientWidth), [[], ...names.map(() => [])], el),
    () => {
      const { traffic } = props.state;
      return [traffic.t, ...names.map((n) => traffic.series[n] ?? [])];
    },
  );

  return html`
    <div class="card">
      <div class="panel-title">
        Traffic by target <span class="spacer"></span
        ><span class="muted">req/s, last ${props.state.traffic.t.length} s</span>
      </div>
      <div class="chart" ref=${box}></div>
      <div class="legend">
        ${names.map((n) => html`<span><i style=${`background:${colors[n]}`}></i>${n}</span>`)}
      </div>
    </div>
  `;
}

/** A line per target in its colour, time on x, req/s on y (at least 0–5). */
function chartOptions(
  names: readonly string[],
  colors: Record<string, string>,
  width: number,
): uPlot.Options {
  const axis = {
    stroke: '#8a93a6',
    grid: { stroke: '#1b2233', width: 1 },
    ticks: { stroke: '#1b2233', width: 1 },
    font: '11px ui-sans-serif, system-ui',
  };
  return {
    width,
    height: 230,
    cursor: { drag: { x: false, y: false } },
    legend: { show: false },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.15)] } },
    axes: [
      {
        ...axis,
        space: 90,
        values: (_u: uPlot, splits: number[]) =>
          splits.map((s) =>
            new Date(s * 1000).toLocaleTimeString([], {
              hour12: false,
              hour: '2-digit',
              minute: '2-digit',
              second: '2-digit',
            }),
          ),
      },
      { ...axis, size: 44 },
    ],
    series: [
      {},
      ...names.map((name) => ({
        label: name,
        stroke: colors[name]!,
        width: 2,
        fill: `${colors[name]!}22`,
        points: { show: false },
      })),
    ],
  };
}
