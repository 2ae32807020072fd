import { planDocument } from '../../core/plan/planner.js';
import type { Placement, Plan } from '../../core/plan/types.js';
import { loadCatalog } from '../catalog-files.js';
import { paint, renderTable, usd, useColor } from '../output.js';
import { DEFAULT_SPEC_FILE, givenSpecFile, loadSpecFile } from '../spec-file.js';

export interface PlanCommandOptions {
  file?: string;
  json?: boolean;
  catalog?: string;
}

export async function runPlan(
  fileArg: string | undefined,
  options: PlanCommandOptions,
): Promise<void> {
  const file = givenSpecFile(fileArg, options.file) ?? DEFAULT_SPEC_FILE;
  const doc = await loadSpecFile(file);
  const catalog = await loadCatalog(options.catalog);
  const plan = planDocument(doc, catalog);
  if (options.json) {
    process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    return;
  }
  process.stdout.write(formatPlan(plan, useColor()) + '\n');
}

/** "$3.5797" below a dollar, "$1,234.56" above. */
function price(x: number): string {
  return x !== 0 && Math.abs(x) < 1 ? `$${x.toFixed(4)}` : usd(x);
}

function capacity(p: Placement): string {
  if (p.capacity === 'on-demand') return 'on-demand';
  if (p.capacity === 'spot') return 'spot';
  return `${p.replicas.onDemand} on-demand + spot`;
}

function gpu(p: { gpu?: { count: number; model: string } }): string {
  return p.gpu ? `${p.gpu.count}×${p.gpu.model}` : '-';
}

/** The plan as a person reads it: placements, totals, budget, data, comparison, reasons. */
export function formatPlan(plan: Plan, color: boolean): string {
  return [
    ...placementSection(plan, color),
    ...totalSection(plan, color),
    ...dataSection(plan, color),
    ...comparisonSection(plan, color),
    ...droppedSection(plan, color),
    ...whySection(plan, color),
    ...warningSection(plan, color),
  ].join('\n');
}

const bold = (s: string, color: boolean) => paint('bold', s, color);

/** The heading and one row per placement. */
function placementSection(plan: Plan, color: boolean): string[] {
  const n = plan.placements.length;
  return [
    `${bold('Plan', color)} for service ${bold(plan.service, color)} · strategy ${plan.strategy} · ${n} target${n === 1 ? '' : 's'}`,
    '',
    renderTable(plan.placements, [
      { header: 'TIER', value: (p) => String(p.tier), align: 'right' },
      { header: 'TARGET', value: (p) => p.target },
      { header: 'CLOUD/REGION', value: cloudRegion },
      { header: 'INSTANCE', value: (p) => p.instanceType },
      { header: 'GPU', value: gpu },
      { header: 'CAPACITY', value: capacity },
      { header: 'REPLICAS', value: (p) => `${p.replicas.min}-${p.replicas.max}` },
      { header: '$/H', value: (p) => price(p.hourly), align: 'right' },
      { header: '$/MONTH', value: (p) => usd(p.monthly), align: 'right' },
      { header: '$/MONTH AT MAX', value: (p) => usd(p.monthlyAtMax ?? 0), align: 'right' },
    ]),
  ];
}

/** "aws/us-east-1", "local/home" or, for a local target emulating a cloud, "local→aws/…". */
function cloudRegion(p: Placement): string {
  if (p.provider !== 'local') return `${p.cloud}/${p.region}`;
  return p.cloud === 'local' ? `local/${p.region}` : `local→${p.cloud}/${p.region}`;
}

/** Hourly and monthly totals, at minimum and at maximum replicas; the budget's verdict. */
function totalSection(plan: Plan, color: boolean): string[] {
  const t = plan.totals;
  const out = [
    '',
    `${bold('Total', color)}: ${price(t.hourly)}/h, ${bold(usd(t.monthly), color)}/month at minimum replicas; ` +
      `${price(t.hourlyAtMax)}/h, ${usd(t.monthlyAtMax ?? t.hourlyAtMax * 730)}/month with every target at max`,
  ];
  if (plan.budget) {
    const b = plan.budget;
    const style = b.verdict === 'over' ? 'red' : b.verdict === 'warn' ? 'yellow' : 'green';
    const word =
      b.verdict === 'over'
        ? 'OVER BUDGET'
        : b.verdict === 'warn'
          ? 'near the limit'
          : 'within budget';
    out.push(
      `${bold('Budget', color)}: ${usd(b.monthly)} of ${usd(b.limit)}/month (${(b.share * 100).toFixed(1)}%): ${paint(['bold', style], word, color)}`,
    );
  }
  return out;
}

/** The one-time cost of copying each data set to each target, if any. */
function dataSection(plan: Plan, color: boolean): string[] {
  if (plan.data.length === 0) return [];
  return [
    '',
    `${bold('Data replication', color)} (one-time, full copy): ${usd(plan.totals.dataTransferOneTime)}`,
    renderTable(plan.data, [
      { header: 'DATA SET', value: (d) => d.dataSet },
      { header: 'JURISDICTION', value: (d) => d.jurisdiction },
      { header: 'TO', value: (d) => d.to },
      { header: 'GB', value: (d) => String(d.sizeGb), align: 'right' },
      {
        header: 'EGRESS',
        value: (d) =>
          d.fromCloud === undefined
            ? 'none (local source)'
            : `${d.fromCloud} ${d.kind ?? ''}`.trim(),
      },
      { header: '$/GB', value: (d) => `$${d.pricePerGb.toFixed(4)}`, align: 'right' },
      { header: 'COST', value: (d) => usd(d.cost), align: 'right' },
    ]),
  ];
}

/** The same service on each single cloud, the cheapest month in green. */
function comparisonSection(plan: Plan, color: boolean): string[] {
  const replicas = plan.comparison[0]?.replicas ?? 1;
  const cheapest = Math.min(
    ...plan.comparison.filter((c) => c.unavailable === undefined).map((c) => c.monthly),
  );
  return [
    '',
    `${bold('Same service on one cloud', color)} (cheapest region, ${replicas} replica${replicas === 1 ? '' : 's'} on-demand):`,
    renderTable(plan.comparison, [
      { header: 'CLOUD', value: (c) => c.cloud },
      { header: 'REGION', value: (c) => c.region || '-' },
      { header: 'INSTANCE', value: (c) => c.unavailable ?? c.instanceType },
      { header: 'GPU', value: gpu },
      { header: '$/H', value: (c) => (c.unavailable ? '-' : price(c.hourly)), align: 'right' },
      {
        header: '$/MONTH',
        value: (c) =>
          c.unavailable
            ? '-'
            : c.monthly === cheapest
              ? paint('green', usd(c.monthly), color)
              : usd(c.monthly),
        align: 'right',
      },
      {
        header: 'SPOT $/H',
        value: (c) => (c.hourlySpot === undefined ? '-' : price(c.hourlySpot)),
        align: 'right',
      },
    ]),
  ];
}

/** Targets the plan left out, and why. */
function droppedSection(plan: Plan, color: boolean): string[] {
  const dropped = plan.dropped ?? [];
  if (dropped.length === 0) return [];
  return ['', bold('Dropped', color), ...dropped.map((d) => `  ${d.target}: ${d.reason}`)];
}

/** The plan's reasons, then each placement's. */
function whySection(plan: Plan, color: boolean): string[] {
  return [
    '',
    bold('Why', color),
    ...plan.reasons.map((r) => `  - ${r}`),
    ...plan.placements.flatMap((p) => [`  ${p.target}:`, ...p.reasons.map((r) => `    - ${r}`)]),
  ];
}

/** What the user should look at before applying the plan. */
function warningSection(plan: Plan, color: boolean): string[] {
  if (plan.warnings.length === 0) return [];
  return [
    '',
    paint(['bold', 'yellow'], 'Warnings', color),
    ...plan.warnings.map((w) => `  ! ${w}`),
  ];
}
