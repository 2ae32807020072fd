/**
 * The cost report: billed and effective cost per cloud beside the plan's estimate for the
 * same hours, the drift, the cheapest cloud, cost per 1,000 inferences, budget burn and a
 * month-end forecast, and the days that stand out. Pure: the store's daily sums in, a value
 * out; the CLI prints it as a table, JSON or CSV.
 */
import type { Plan } from '../plan/types.js';
import { findAnomalies, type Anomaly } from './anomalies.js';
import { plannedHourlyByCloud, plannedHourlyByTarget } from './estimate.js';
import { dayStartMs, daysIn, eachDay, monthOf } from './range.js';
import type { CostGroupBy, DailyCost, DateRange } from './types.js';

/** The currency of plans and budgets: estimates are compared only with rows billed in it. */
export const PLAN_CURRENCY = 'USD';

/** Known request counts over the report's range, for cost per 1,000 inferences. */
export interface RequestCounts {
  total?: number;
  byCloud?: Record<string, number>;
  byTarget?: Record<string, number>;
}

export interface CostReportInput {
  range: DateRange;
  by: CostGroupBy;
  /**
   * Daily sums from the store, grouped by the `by` key (target, service or ""); may start
   * before `range.from` (the month's first day, for the budget) but not end after `range.to`.
   */
  daily: DailyCost[];
  plan?: Plan;
  budget?: { monthly: number; warnAt: number };
  requests?: RequestCounts;
  /** Clouds whose data could not be fetched, with why: their figures are incomplete. */
  incomplete?: { cloud: string; reason: string }[];
}

/** One line of the report: a cloud, or a group (target, service, day) within a cloud. */
export interface CostLine {
  key: string;
  cloud: string;
  currency: string;
  billed: number;
  effective: number;
  /** Days of the range with billing data for this line. */
  daysWithData: number;
  /** The plan's USD for the hours the data covers (first to last day with data). */
  estimate?: number;
  /** (billed − estimate) / estimate × 100. */
  driftPct?: number;
  requests?: number;
  /** Billed cost per 1,000 inferences. */
  per1k?: number;
  /** The cloud's data could not all be fetched. */
  incomplete?: boolean;
}

export interface BudgetBurn {
  month: string;
  limit: number;
  monthToDate: number;
  /** monthToDate / limit. */
  burn: number;
  /** monthToDate plus the recent daily rate (median of the last 7 days) over the days left. */
  forecast: number;
  dailyRate: number;
  daysLeft: number;
  verdict: 'within' | 'warn' | 'over';
}

export interface CostReport {
  range: DateRange & { days: number };
  by: CostGroupBy;
  /** One line per cloud and currency, billed descending. */
  clouds: CostLine[];
  /** With `by` target, service or day: one line per group, cloud and currency. */
  groups: CostLine[];
  /** Totals per currency (never summed across currencies). */
  totals: {
    currency: string;
    billed: number;
    effective: number;
    estimate?: number;
    requests?: number;
    per1k?: number;
  }[];
  /** The cloud with the lowest billed cost among those with data, in the plan currency. */
  cheapest?: { cloud: string; billed: number; currency: string; per1k?: number };
  /** The cloud with the lowest cost per 1,000 inferences, when request counts are known. */
  cheapestPer1k?: { cloud: string; per1k: number };
  budget?: BudgetBurn;
  anomalies: Anomaly[];
  /** Daily billed cost per cloud and currency over the range (every day, zeros included). */
  daily: { day: string; cloud: string; currency: string; billed: number; effective: number }[];
  incomplete: { cloud: string; reason: string }[];
  notes: string[];
}

const round = (n: number, digits = 6) => Math.round(n * 10 ** digits) / 10 ** digits;

interface Sum {
  key: string;
  cloud: string;
  currency: string;
  billed: number;
  effective: number;
  days: Set<string>;
}

function sumBy(rows: DailyCost[], keyOf: (r: DailyCost) => string): Sum[] {
  const sums = new Map<string, Sum>();
  for (const r of rows) {
    const key = keyOf(r);
    const id = `${key}\u0000${r.cloud}\u0000${r.currency}`;
    let s = sums.get(id);
    if (!s) {
      s = { key, cloud: r.cloud, currency: r.currency, billed: 0, effective: 0, days: new Set() };
      sums.set(id, s);
    }
    s.billed += r.billed;
    s.effective += r.effective;
    s.days.add(r.day);
  }
  return [...sums.values()];
}

/** Hours from the first to the last day with data (whole days). */
function coveredHours(days: Set<string>): number {
  if (days.size === 0) return 0;
  const sorted = [...days].sort();
  return daysIn({ from: sorted[0]!, to: sorted[sorted.length - 1]! }) * 24;
}

function line(
  s: Sum,
  hourly: number | undefined,
  requests: number | undefined,
  incomplete: Set<string>,
): CostLine {
  const out: CostLine = {
    key: s.key,
    cloud: s.cloud,
    currency: s.currency,
    billed: round(s.billed),
    effective: round(s.effective),
    daysWithData: s.days.size,
  };
  if (hourly !== undefined && s.currency === PLAN_CURRENCY) {
    out.estimate = round(hourly * coveredHours(s.days));
    if (out.estimate > 0) out.driftPct = round(((s.billed - out.estimate) / out.estimate) * 100, 2);
  }
  // Requests are counted per cloud or target, not per currency: per-1k only on the plan's.
  if (requests !== undefined && requests > 0 && s.currency === PLAN_CURRENCY) {
    out.requests = requests;
    out.per1k = round((s.billed / requests) * 1000);
  }
  if (incomplete.has(s.cloud)) out.incomplete = true;
  return out;
}

const byBilled = (a: CostLine, b: CostLine) =>
  b.billed - a.billed || a.cloud.localeCompare(b.cloud) || a.key.localeCompare(b.key);

/** Clouds of the plan without any billing row: shown with their estimate and no bill. */
function plannedWithoutData(
  seen: Set<string>,
  hourlyByCloud: Map<string, number>,
  range: DateRange,
): CostLine[] {
  return [...hourlyByCloud]
    .filter(([cloud]) => !seen.has(cloud))
    .map(([cloud, hourly]) => ({
      key: cloud,
      cloud,
      currency: PLAN_CURRENCY,
      billed: 0,
      effective: 0,
      daysWithData: 0,
      estimate: round(hourly * daysIn(range) * 24),
    }));
}

function budgetBurn(
  daily: DailyCost[],
  range: DateRange,
  budget: { monthly: number; warnAt: number },
): BudgetBurn {
  const month = monthOf(range.to);
  const byDay = new Map<string, number>();
  for (const r of daily) {
    if (r.currency !== PLAN_CURRENCY || r.day < month.from || r.day > range.to) continue;
    byDay.set(r.day, (byDay.get(r.day) ?? 0) + r.billed);
  }
  const monthToDate = [...byDay.values()].reduce((a, b) => a + b, 0);
  // The recent rate: the median of the last (up to) 7 days of the month so far (a one-day
  // spike does not move it), days without data counting as 0 once data has started.
  const days = eachDay({ from: month.from, to: range.to });
  const first = [...byDay.keys()].sort()[0];
  const recent = days
    .filter((d) => first !== undefined && d >= first)
    .slice(-7)
    .map((d) => byDay.get(d) ?? 0)
    .sort((a, b) => a - b);
  const mid = Math.floor(recent.length / 2);
  const dailyRate =
    recent.length === 0
      ? 0
      : recent.length % 2 === 1
        ? recent[mid]!
        : (recent[mid - 1]! + recent[mid]!) / 2;
  const daysLeft = daysIn(month) - days.length;
  const forecast = monthToDate + dailyRate * daysLeft;
  const verdict =
    forecast > budget.monthly
      ? 'over'
      : forecast > budget.monthly * budget.warnAt
        ? 'warn'
        : 'within';
  return {
    month: month.from.slice(0, 7),
    limit: budget.monthly,
    monthToDate: round(monthToDate),
    burn: round(monthToDate / budget.monthly, 4),
    forecast: round(forecast),
    dailyRate: round(dailyRate),
    daysLeft,
    verdict,
  };
}

function dailySeries(rows: DailyCost[], range: DateRange): CostReport['daily'] {
  const series = new Map<string, Map<string, { billed: number; effective: number }>>();
  for (const r of rows) {
    const id = `${r.cloud}\u0000${r.currency}`;
    let days = series.get(id);
    if (!days) {
      days = new Map<string, { billed: number; effective: number }>();
      series.set(id, days);
    }
    const d = days.get(r.day) ?? { billed: 0, effective: 0 };
    d.billed += r.billed;
    d.effective += r.effective;
    days.set(r.day, d);
  }
  const out: CostReport['daily'] = [];
  for (const [id, days] of [...series].sort(([a], [b]) => a.localeCompare(b))) {
    const [cloud, currency] = id.split('\u0000') as [string, string];
    for (const day of eachDay(range)) {
      const d = days.get(day);
      out.push({
        day,
        cloud,
        currency,
        billed: round(d?.billed ?? 0),
        effective: round(d?.effective ?? 0),
      });
    }
  }
  return out;
}

function anomaliesOf(daily: CostReport['daily']): Anomaly[] {
  const series = new Map<string, { day: string; billed: number }[]>();
  for (const d of daily) {
    const id = `${d.cloud}\u0000${d.currency}`;
    const s = series.get(id) ?? [];
    s.push({ day: d.day, billed: d.billed });
    series.set(id, s);
  }
  const out: Anomaly[] = [];
  for (const [id, s] of series) {
    const [cloud, currency] = id.split('\u0000') as [string, string];
    // Days before the first and after the last day with data are not "drops".
    const first = s.findIndex((d) => d.billed !== 0);
    const last = s.length - 1 - [...s].reverse().findIndex((d) => d.billed !== 0);
    if (first < 0) continue;
    out.push(...findAnomalies(cloud, currency, s.slice(first, last + 1)));
  }
  return out.sort((a, b) => a.day.localeCompare(b.day) || a.cloud.localeCompare(b.cloud));
}

/** Builds the report from the store's daily sums, the plan and the budget. */
export function buildCostReport(input: CostReportInput): CostReport {
  const { range, by } = input;
  const inRange = input.daily.filter((r) => r.day >= range.from && r.day <= range.to);
  const incomplete = new Set((input.incomplete ?? []).map((i) => i.cloud));
  const hourlyByCloud = input.plan ? plannedHourlyByCloud(input.plan) : new Map<string, number>();
  const requests = input.requests ?? {};
  const clouds = cloudLines(inRange, hourlyByCloud, requests, incomplete, range);
  const groups = groupLines(input, inRange, incomplete);
  const currencies = [...new Set(clouds.map((c) => c.currency))].sort();
  const totals = totalsByCurrency(clouds, currencies, requests.total);
  const notes = reportNotes(currencies, input.plan !== undefined, hourlyByCloud);
  const daily = dailySeries(inRange, range);
  const report: CostReport = {
    range: { ...range, days: daysIn(range) },
    by,
    clouds,
    groups,
    totals,
    anomalies: anomaliesOf(daily),
    daily,
    incomplete: input.incomplete ?? [],
    notes,
  };
  const { cheapest, cheapestPer1k } = cheapestClouds(clouds);
  if (cheapest) report.cheapest = cheapest;
  if (cheapestPer1k) report.cheapestPer1k = cheapestPer1k;
  if (input.budget) report.budget = budgetBurn(input.daily, range, input.budget);
  return report;
}

/** A line per cloud and currency, and one per planned cloud without data; most billed first. */
function cloudLines(
  inRange: DailyCost[],
  hourlyByCloud: Map<string, number>,
  requests: RequestCounts,
  incomplete: Set<string>,
  range: DateRange,
): CostLine[] {
  const cloudSums = sumBy(inRange, (r) => r.cloud);
  return cloudSums
    .map((s) => line(s, hourlyByCloud.get(s.cloud), requests.byCloud?.[s.cloud], incomplete))
    .concat(plannedWithoutData(new Set(cloudSums.map((s) => s.cloud)), hourlyByCloud, range))
    .sort(byBilled);
}

/** The lines of the `by` grouping (none when by cloud); by day in day order, else most billed first. */
function groupLines(
  input: CostReportInput,
  inRange: DailyCost[],
  incomplete: Set<string>,
): CostLine[] {
  const { by } = input;
  if (by !== 'target' && by !== 'service' && by !== 'day') return [];
  const hourlyByTarget = input.plan
    ? plannedHourlyByTarget(input.plan)
    : new Map<string, { cloud: string; hourly: number }>();
  const keyOf = by === 'day' ? (r: DailyCost) => r.day : (r: DailyCost) => r.key;
  const groups = sumBy(inRange, keyOf).map((s) => {
    const planned = by === 'target' ? hourlyByTarget.get(s.key) : undefined;
    const hourly = planned && planned.cloud === s.cloud ? planned.hourly : undefined;
    const req = by === 'target' ? input.requests?.byTarget?.[s.key] : undefined;
    return line(s, hourly, req, incomplete);
  });
  return groups.sort(
    by === 'day'
      ? (a, b) => a.key.localeCompare(b.key) || a.cloud.localeCompare(b.cloud)
      : byBilled,
  );
}

/** One total per currency; the plan's currency also gets the estimate and cost per 1,000. */
function totalsByCurrency(
  clouds: CostLine[],
  currencies: string[],
  requestTotal: number | undefined,
): CostReport['totals'] {
  const totals = currencies.map((currency) => {
    const of = clouds.filter((c) => c.currency === currency);
    const t: CostReport['totals'][number] = {
      currency,
      billed: round(of.reduce((a, c) => a + c.billed, 0)),
      effective: round(of.reduce((a, c) => a + c.effective, 0)),
    };
    if (currency === PLAN_CURRENCY && of.some((c) => c.estimate !== undefined))
      t.estimate = round(of.reduce((a, c) => a + (c.estimate ?? 0), 0));
    return t;
  });
  if (requestTotal !== undefined && requestTotal > 0) {
    for (const t of totals) {
      if (t.currency !== PLAN_CURRENCY) continue;
      t.requests = requestTotal;
      t.per1k = round((t.billed / requestTotal) * 1000);
    }
  }
  return totals;
}

/** The cheapest cloud with data (in the plan's currency when any is) and the cheapest per 1,000. */
function cheapestClouds(clouds: CostLine[]): Pick<CostReport, 'cheapest' | 'cheapestPer1k'> {
  const withData = clouds.filter((c) => c.daysWithData > 0);
  const planCurrency = withData.filter((c) => c.currency === PLAN_CURRENCY);
  const pool = planCurrency.length > 0 ? planCurrency : withData;
  const cheapestLine = [...pool].sort((a, b) => a.billed - b.billed)[0];
  const per1k = withData.filter((c) => c.per1k !== undefined).sort((a, b) => a.per1k! - b.per1k!);
  return {
    ...(cheapestLine
      ? {
          cheapest: {
            cloud: cheapestLine.cloud,
            billed: cheapestLine.billed,
            currency: cheapestLine.currency,
            ...(cheapestLine.per1k !== undefined ? { per1k: cheapestLine.per1k } : {}),
          },
        }
      : {}),
    ...(per1k[0] ? { cheapestPer1k: { cloud: per1k[0].cloud, per1k: per1k[0].per1k! } } : {}),
  };
}

function reportNotes(
  currencies: string[],
  planned: boolean,
  hourlyByCloud: Map<string, number>,
): string[] {
  const notes: string[] = [];
  if (currencies.length > 1)
    notes.push(`rows are billed in ${currencies.join(', ')}: each currency is totalled apart`);
  if (planned && [...hourlyByCloud.values()].every((h) => h === 0))
    notes.push('the plan prices no cloud (local targets that emulate none): no estimate');
  return notes;
}

/** Milliseconds in the inclusive range (for callers that need instants). */
export function rangeBounds(range: DateRange): { start: number; end: number } {
  return { start: dayStartMs(range.from), end: dayStartMs(range.to) + 86_400_000 };
}
