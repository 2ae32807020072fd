/** How `mcml cost` prints: tables for people, CSV for spreadsheets. */
import type { CostLine, CostReport, DateRange } from '../../core/cost/index.js';
import type { ImportReport, PullOutcome } from '../../engines/cost/index.js';
import { paint, renderTable, usd } from '../output.js';

/** An amount in its currency: "$1,234.56", "€42.00", "1,234.56 JPY". */
export function money(amount: number, currency: string): string {
  if (currency === 'USD') return amount < 0 ? `-${usd(-amount)}` : usd(amount);
  const symbol: Record<string, string> = { EUR: '€', GBP: '£' };
  const text = Math.abs(amount).toLocaleString('en-US', {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  const sign = amount < 0 ? '-' : '';
  return symbol[currency] ? `${sign}${symbol[currency]}${text}` : `${sign}${text} ${currency}`;
}

function drift(l: CostLine, color: boolean): string {
  if (l.daysWithData === 0) return l.estimate !== undefined ? 'no bill yet' : '-';
  if (l.driftPct === undefined) return '-';
  const text = `${l.driftPct > 0 ? '+' : ''}${l.driftPct.toFixed(1)}%`;
  return Math.abs(l.driftPct) >= 20 ? paint(l.driftPct > 0 ? 'red' : 'yellow', text, color) : text;
}

function lineTable(lines: CostLine[], first: string, color: boolean): string {
  const hasPer1k = lines.some((l) => l.per1k !== undefined);
  return renderTable(lines, [
    {
      header: first,
      value: (l) =>
        (first === 'CLOUD' ? l.cloud : l.key) +
        (l.incomplete ? paint('yellow', ' (incomplete)', color) : ''),
    },
    ...(first === 'CLOUD' ? [] : [{ header: 'CLOUD', value: (l: CostLine) => l.cloud }]),
    { header: 'BILLED', value: (l) => money(l.billed, l.currency), align: 'right' },
    { header: 'EFFECTIVE', value: (l) => money(l.effective, l.currency), align: 'right' },
    {
      header: 'ESTIMATE',
      value: (l) => (l.estimate === undefined ? '-' : money(l.estimate, 'USD')),
      align: 'right',
    },
    { header: 'DRIFT', value: (l) => drift(l, color), align: 'right' },
    { header: 'DAYS', value: (l) => String(l.daysWithData), align: 'right' },
    ...(hasPer1k
      ? [
          {
            header: 'PER 1K INF',
            value: (l: CostLine) => (l.per1k === undefined ? '-' : money(l.per1k, l.currency)),
            align: 'right' as const,
          },
        ]
      : []),
  ]);
}

/** The report as a person reads it. */
export function formatReport(
  report: CostReport,
  who: { service: string; mode: string },
  color: boolean,
): string {
  const bold = (s: string) => paint('bold', s, color);
  const out: string[] = [
    `${bold('Cost')} of ${bold(who.service)} · ${report.range.from} to ${report.range.to} (${report.range.days} day${report.range.days === 1 ? '' : 's'}) · attribution: ${who.mode}`,
    '',
  ];
  if (report.clouds.length === 0) {
    out.push('No billing rows for this range.');
  } else {
    out.push(lineTable(report.clouds, 'CLOUD', color));
  }
  for (const t of report.totals) {
    const parts = [
      `${bold('Total')} (${t.currency}): ${money(t.billed, t.currency)} billed, ${money(t.effective, t.currency)} effective`,
    ];
    if (t.estimate !== undefined) parts.push(`${money(t.estimate, 'USD')} estimated`);
    if (t.per1k !== undefined) parts.push(`${money(t.per1k, t.currency)} per 1,000 inferences`);
    out.push(parts.join(', '));
  }
  if (report.cheapest && report.clouds.filter((c) => c.daysWithData > 0).length > 1) {
    out.push(
      `${bold('Cheapest')}: ${report.cheapest.cloud} (${money(report.cheapest.billed, report.cheapest.currency)} billed)`,
    );
  }
  if (report.cheapestPer1k) {
    out.push(
      `${bold('Cheapest per 1,000 inferences')}: ${report.cheapestPer1k.cloud} (${money(report.cheapestPer1k.per1k, 'USD')})`,
    );
  }
  if (report.budget) {
    const b = report.budget;
    const style = b.verdict === 'over' ? 'red' : b.verdict === 'warn' ? 'yellow' : 'green';
    const word =
      b.verdict === 'over'
        ? 'OVER BUDGET'
        : b.verdict === 'warn'
          ? 'near the limit'
          : 'within budget';
    out.push(
      `${bold('Budget')} ${b.month}: ${usd(b.monthToDate)} of ${usd(b.limit)} spent (${(b.burn * 100).toFixed(1)}%); ` +
        `forecast ${usd(b.forecast)} by month end at ${usd(b.dailyRate)}/day: ${paint(['bold', style], word, color)}`,
    );
  }
  if (report.groups.length > 0) {
    out.push('', bold(`By ${report.by}`), lineTable(report.groups, report.by.toUpperCase(), color));
  }
  if (report.anomalies.length > 0) {
    out.push('', bold('Days that stand out'));
    for (const a of report.anomalies) {
      out.push(
        `  ${a.day} ${a.cloud}: ${money(a.billed, a.currency)} (${a.kind}; a usual day is ${money(a.expected, a.currency)})`,
      );
    }
  }
  if (report.incomplete.length > 0) {
    out.push('', paint(['bold', 'yellow'], 'Incomplete', color));
    for (const i of report.incomplete) out.push(`  ${i.cloud}: ${i.reason}`);
  }
  for (const n of report.notes) out.push(paint('dim', `note: ${n}`, color));
  return out.join('\n');
}

const csvCell = (v: string | number | boolean | undefined) => {
  const s = v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The report's lines as CSV: the groups with --by target/service/day, else the clouds. */
export function reportCsv(report: CostReport): string {
  const lines = report.groups.length > 0 ? report.groups : report.clouds;
  const header = [
    report.by,
    'cloud',
    'currency',
    'billed',
    'effective',
    'estimate',
    'drift_pct',
    'days_with_data',
    'requests',
    'per_1k',
    'incomplete',
  ];
  const rows = lines.map((l) =>
    [
      report.by === 'cloud' ? l.cloud : l.key,
      l.cloud,
      l.currency,
      l.billed,
      l.effective,
      l.estimate,
      l.driftPct,
      l.daysWithData,
      l.requests,
      l.per1k,
      l.incomplete ?? false,
    ]
      .map(csvCell)
      .join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

export function formatImport(report: ImportReport, store: string, color: boolean): string {
  const out = [
    `${paint('green', '✓', color)} imported ${report.rows.toLocaleString('en-US')} rows from ${report.files.length} file${report.files.length === 1 ? '' : 's'} in ${(report.durationMs / 1000).toFixed(1)} s` +
      (report.replaced > 0
        ? ` (replacing ${report.replaced.toLocaleString('en-US')} earlier rows)`
        : '') +
      ` into ${store}`,
  ];
  for (const f of report.files) {
    const billed = f.billed.map((b) => `${b.cloud} ${money(b.billed, b.currency)}`).join(', ');
    out.push(
      `  ${f.source}: FOCUS ${f.focusVersion}, ${f.rows.toLocaleString('en-US')} rows, billed ${billed || '-'}`,
    );
  }
  return out.join('\n');
}

export function formatPull(outcomes: PullOutcome[], range: DateRange, color: boolean): string {
  const out: string[] = [];
  for (const o of outcomes) {
    if (o.error) {
      out.push(
        `${paint('red', '✗', color)} ${o.cloud} (${o.scope}): ${o.error.message}${o.attempts > 1 ? ` (after ${o.attempts} attempts)` : ''}`,
      );
      if (o.error.hint) out.push(`    ${paint('cyan', `hint: ${o.error.hint}`, color)}`);
    } else {
      const billed = Object.entries(o.billed ?? {})
        .map(([c, v]) => money(v, c))
        .join(', ');
      out.push(
        `${paint('green', '✓', color)} ${o.cloud} (${o.scope}): ${o.rows} daily rows ${range.from} to ${range.to}, billed ${billed || '$0.00'}`,
      );
    }
  }
  return out.join('\n');
}
