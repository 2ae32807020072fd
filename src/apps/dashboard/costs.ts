/**
 * What feeds the dashboard's Costs view: the billed days of the month from the cost store
 * (read once, so `mcml cost import` can still write to it), the plan's estimate and budget
 * per day, and this run's live estimate, integrated from the replicas running at each
 * observation (replica-hours × the plan's catalog price per replica-hour).
 */
import { existsSync } from 'node:fs';
import { isMcmlError } from '../../core/errors.js';
import { plannedHourlyByCloud } from '../../core/cost/estimate.js';
import { dayOf, eachDay, monthOf } from '../../core/cost/range.js';
import type { DailyCost } from '../../core/cost/types.js';
import type { Plan } from '../../core/plan/types.js';
import type { CostsView } from './state.js';

const HOUR_MS = 3_600_000;

/** USD per hour of one replica of each target (local targets emulating no cloud cost 0). */
function pricePerReplica(plan: Plan): Map<string, { cloud: string; price: number }> {
  const out = new Map<string, { cloud: string; price: number }>();
  for (const p of plan.placements) {
    const price =
      p.cloud === 'local'
        ? 0
        : p.replicas.min > 0
          ? p.hourly / p.replicas.min
          : p.hourlyAtMax / Math.max(1, p.replicas.max);
    out.set(p.target, { cloud: p.cloud, price });
  }
  return out;
}

export interface CostFeedOptions {
  plan: Plan;
  budgetMonthly?: number;
  startedAt: number;
}

export class CostFeed {
  private readonly prices: Map<string, { cloud: string; price: number }>;
  private readonly estimatePerDay: number;
  private lastAt: number;
  private readonly cost = new Map<string, number>();
  private replicaHours = 0;
  private perHour = 0;
  private billed: DailyCost[] = [];
  private billedSource = 'no billing data yet: mcml cost import / mcml cost pull fill it';

  constructor(private readonly options: CostFeedOptions) {
    this.prices = pricePerReplica(options.plan);
    this.estimatePerDay =
      [...plannedHourlyByCloud(options.plan).values()].reduce((a, b) => a + b, 0) * 24;
    this.lastAt = options.startedAt;
  }

  /** Adds the replica-hours since the last observation at the replicas ready now. */
  observe(now: number, running: { target: string; ready: number }[]): void {
    const hours = Math.max(0, now - this.lastAt) / HOUR_MS;
    this.lastAt = Math.max(this.lastAt, now);
    let perHour = 0;
    for (const r of running) {
      const price = this.prices.get(r.target);
      if (!price || price.cloud === 'local') continue;
      perHour += r.ready * price.price;
      this.replicaHours += r.ready * hours;
      this.cost.set(price.cloud, (this.cost.get(price.cloud) ?? 0) + r.ready * hours * price.price);
    }
    this.perHour = perHour;
  }

  /** The billed days (USD rows are shown; others are left out of a dollar chart). */
  setBilled(daily: DailyCost[], source: string): void {
    this.billed = daily.filter((d) => d.currency === 'USD');
    this.billedSource = source;
  }

  view(now: number): CostsView {
    const today = dayOf(now);
    const month = monthOf(today);
    const days = eachDay({ from: month.from, to: today });
    const index = new Map(days.map((d, i) => [d, i]));
    const billed: Record<string, number[]> = {};
    for (const d of this.billed) {
      const i = index.get(d.day);
      if (i === undefined) continue;
      const series = (billed[d.cloud] ??= days.map(() => 0));
      series[i] = (series[i] ?? 0) + d.billed;
    }
    const byCloud = Object.fromEntries(this.cost);
    const view: CostsView = {
      currency: 'USD',
      month: today.slice(0, 7),
      days,
      billed,
      billedSource: this.billedSource,
      estimatePerDay: this.estimatePerDay,
      live: {
        since: this.options.startedAt,
        cost: [...this.cost.values()].reduce((a, b) => a + b, 0),
        byCloud,
        replicaHours: this.replicaHours,
        perHour: this.perHour,
      },
    };
    if (this.options.budgetMonthly) {
      const daysInMonth = eachDay(month).length;
      view.budgetPerDay = this.options.budgetMonthly / daysInMonth;
    }
    return view;
  }
}

/**
 * The month's billed days of a service from the cost store at `path`, opened and closed
 * again at once. Never throws: a missing or busy store is said in `source`.
 */
export async function readBilledDays(
  path: string,
  service: string,
  today: string,
): Promise<{ daily: DailyCost[]; source: string }> {
  if (!existsSync(path)) {
    return { daily: [], source: 'no billing data yet: mcml cost import / mcml cost pull fill it' };
  }
  try {
    const { openCostStore } = await import('../../engines/cost/store.js');
    const store = await openCostStore(path);
    try {
      const daily = await store.dailyCosts({
        range: { from: monthOf(today).from, to: today },
        by: 'cloud',
        attribution: { mode: 'tags', service, accounts: {} },
      });
      return { daily, source: `billed, from ${path} (rows tagged mcml-service=${service})` };
    } finally {
      store.close();
    }
  } catch (error) {
    return {
      daily: [],
      source: `cost store unreadable: ${isMcmlError(error) ? error.message : (error as Error).message}`,
    };
  }
}
