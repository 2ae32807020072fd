/**
 * The dashboard's Costs view: daily spend by cloud for the month (stacked bars, billed, from
 * the cost store), today's live estimate of this run on top (replica-hours × catalog price,
 * drawn lighter and labelled estimated), the plan's estimate per day and the budget per day
 * as lines. uPlot draws it; stacking is done here by drawing the running totals from the top
 * down.
 */
import { html } from 'htm/preact';
import uPlot from 'uplot';
import type { CostsView } from '../state.js';
import { useChart } from './chart.js';
import { fmtUsd as usd } from './format.js';

const CLOUD_COLOR: Record<string, string> = {
  aws: '#ff9900',
  gcp: '#34d399',
  azure: '#1fa3f0',
};
const OTHER = ['#a78bfa', '#f472b6', '#34d399'];

/** The stacked series: running totals of the clouds, then the live estimate on top. */
function stacks(costs: CostsView): { labels: string[]; colors: string[]; totals: number[][] } {
  const clouds = Object.keys(costs.billed).sort();
  const labels: string[] = [];
  const colors: string[] = [];
  const totals: number[][] = [];
  let running = costs.days.map(() => 0);
  clouds.forEach((cloud, i) => {
    running = running.map((v, d) => v + (costs.billed[cloud]![d] ?? 0));
    labels.push(`${cloud} billed`);
    colors.push(CLOUD_COLOR[cloud] ?? OTHER[i % OTHER.length]!);
    totals.push(running);
  });
  const last = costs.days.length - 1;
  running = running.map((v, d) => (d === last ? v + costs.live.cost : v));
  labels.push('this run, estimated');
  colors.push('#94a3b8');
  totals.push(running);
  return { labels, colors, totals };
}

/** The Costs card: the month's chart, its legend, what was billed and what this run costs. */
export function CostsPanel(props: { costs: CostsView }) {
  const { costs } = props;
  const s = stacks(costs);
  const box = useChart(
    `${costs.month}|${s.labels.join(',')}|${costs.budgetPerDay ?? ''}`,
    (el) => new uPlot(chartOptions(costs, s, el.clientWidth), [[]], el),
    () => chartData(costs, s),
  );

  const billedTotal = Object.values(costs.billed).reduce(
    (a, series) => a + series.reduce((x, y) => x + y, 0),
    0,
  );
  return html`
    <div class="card" data-testid="costs">
      <div class="panel-title">
        Costs <span class="spacer"></span><span class="muted">${costs.month} · USD per day</span>
      </div>
      <div class="chart" ref=${box}></div>
      <div class="legend">
        ${s.labels.map((l, i) => html`<span><i style=${`background:${s.colors[i]}`}></i>${l}</span>`)}
        <span
          ><i style="background:#e2e8f0"></i>plan estimate ${usd(costs.estimatePerDay)}/day</span
        >
        ${
          costs.budgetPerDay !== undefined
            ? html`<span
                ><i style="background:#ef4444"></i>budget ${usd(costs.budgetPerDay)}/day</span
              >`
            : null
        }
      </div>
      <dl class="facts" style="margin-top:10px">
        <dt>billed</dt>
        <dd data-testid="costs-billed">${usd(billedTotal)} this month · ${costs.billedSource}</dd>
        <dt>this run</dt>
        <dd data-testid="costs-live">
          ${usd(costs.live.cost)} estimated (${costs.live.replicaHours.toFixed(2)} replica-hours ×
          catalog price) · now ${usd(costs.live.perHour)}/h
        </dd>
      </dl>
    </div>
  `;
}

const AXIS = {
  stroke: '#8a93a6',
  grid: { stroke: '#1b2233', width: 1 },
  ticks: { stroke: '#1b2233', width: 1 },
  font: '11px ui-sans-serif, system-ui',
};

/** The chart: a bar per day (the stacks, widest first), the plan's and the budget's lines. */
function chartOptions(
  costs: CostsView,
  s: ReturnType<typeof stacks>,
  width: number,
): uPlot.Options {
  const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
  // Widest running total first, so each narrower one is drawn over it: a stack.
  const barSeries = s.labels
    .map((label, i) => ({
      label,
      stroke: s.colors[i]!,
      fill: i === s.labels.length - 1 ? `${s.colors[i]!}66` : s.colors[i]!,
      width: 0,
      ...(bars ? { paths: bars } : {}),
      points: { show: false },
    }))
    .reverse();
  return {
    width,
    height: 230,
    cursor: { drag: { x: false, y: false } },
    legend: { show: false },
    scales: {
      x: { time: false, range: () => [-0.6, costs.days.length - 0.4] },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
    },
    axes: [
      {
        ...AXIS,
        // One tick per day (every few days when the month is long).
        splits: () =>
          costs.days.map((_d, i) => i).filter((i) => i % Math.ceil(costs.days.length / 16) === 0),
        values: (_u: uPlot, splits: number[]) =>
          splits.map((i) => costs.days[Math.round(i)]?.slice(8) ?? ''),
      },
      { ...AXIS, size: 60, values: (_u: uPlot, splits: number[]) => splits.map((v) => `$${v}`) },
    ],
    series: [
      {},
      ...barSeries,
      {
        label: 'plan estimate',
        stroke: '#e2e8f0',
        width: 1.5,
        dash: [6, 4],
        points: { show: false },
      },
      ...(costs.budgetPerDay !== undefined
        ? [{ label: 'budget', stroke: '#ef4444', width: 1.5, points: { show: false } }]
        : []),
    ],
  };
}

/** The chart's data, in the order of its series: days, stacks (widest first), plan, budget. */
function chartData(costs: CostsView, s: ReturnType<typeof stacks>): uPlot.AlignedData {
  const x = costs.days.map((_d, i) => i);
  const data: (number | null)[][] = [
    x,
    ...[...s.totals].reverse(),
    x.map(() => costs.estimatePerDay),
    ...(costs.budgetPerDay !== undefined ? [x.map(() => costs.budgetPerDay!)] : []),
  ];
  return data as uPlot.AlignedData;
}
