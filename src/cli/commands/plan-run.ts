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
  const out: string[] = [];
  const bold = (s: string) => paint('bold', s, color);
  out.push(
    `${bold('Plan')} for service ${bold(plan.service)} · strategy ${plan.strategy} · ${plan.placements.length} target${plan.placements.length === 1 ? '' : 's'}`,
    '',
  );
  out.push(
    renderTable(plan.placements, [
      { header: 'TIER', value: (p) => String(p.tier), align: 'right' },
      { header: 'TARGET', value: (p) => p.target },
      {
        header: 'CLOUD/REGION',
        value: (p) =>
          p.provider === 'local'
            ? p.cloud === 'local'
              ? `local/${p.region}`
              : `local→${p.cloud}/${p.region}`
            : `${p.cloud}/${p.region}`,
      },
      { header: 'INSTANCE', value: (p) => p.instanceType },
      { header: 'GPU', value: gpu },
      { header: 'CAPACITY', value: capacity },
      { header: 'REPLICAS', value: (p) => `${p.replicas.min}-${p.replicas.max}` },
      { header: '$/H', value: (p) => price(p.hourly), align: 'right' },
      { header: '$/MONTH', value: (p) => usd(p.monthly), align: 'right' },
      { header: '$/MONTH AT MAX', value: (p) => usd(p.monthlyAtMax ?? 0), align: 'right' },
    ]),
  );
  const t = plan.totals;
  out.push(
    '',
    `${bold('Total')}: ${price(t.hourly)}/h, ${bold(usd(t.monthly))}/month at minimum replicas; ` +
      `${price(t.hourlyAtMax)}/h, ${usd(t.monthlyAtMax ?? t.hourlyAtMax * 730)}/month with every target at max`,
  );
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
      `${bold('Budget')}: ${usd(b.monthly)} of ${usd(b.limit)}/month (${(b.share * 100).toFixed(1)}%): ${paint(['bold', style], word, color)}`,
    );
  }
  if (plan.data.length > 0) {
    out.push(
      '',
      `${bold('Data replication')} (one-time, full copy): ${usd(t.dataTransferOneTime)}`,
    );
    out.push(
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
    );
  }
  const replicas = plan.comparison[0]?.replicas ?? 1;
  out.push(
    '',
    `${bold('Same service on one cloud')} (cheapest region, ${replicas} replica${replicas === 1 ? '' : 's'} on-demand):`,
  );
  const cheapest = Math.min(
    ...plan.comparison.filter((c) => c.unavailable === undefined).map((c) => c.monthly),
  );
  out.push(
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
  );
  if ((plan.dropped ?? []).length > 0) {
    out.push('', bold('Dropped'));
    for (const d of plan.dropped ?? []) out.push(`  ${d.target}: ${d.reason}`);
  }
  out.push('', bold('Why'));
  for (const r of plan.reasons) out.push(`  - ${r}`);
  for (const p of plan.placements) {
    out.push(`  ${p.target}:`);
    for (const r of p.reasons) out.push(`    - ${r}`);
  }
  if (plan.warnings.length > 0) {
    out.push('', paint(['bold', 'yellow'], 'Warnings', color));
    for (const w of plan.warnings) out.push(`  ! ${w}`);
  }
  return out.join('\n');
}
