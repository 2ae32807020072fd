/**
 * The placement planner: `plan(spec, catalog) → Plan`. Pure and deterministic: the same spec
 * and catalog give the same plan, byte for byte.
 *
 * For each target it picks the cheapest catalog offering that fits one replica (GPU model and
 * count, vCPUs, memory; one replica per node), uses spot above the on-demand floor where the
 * target allows it, orders failover tiers by the strategy, prices replicating each data set to
 * its targets, and explains every choice in `reasons`. Each phase lives in its own module:
 * resolve (candidates), strategy (order), placement, data (transfers), compare (per cloud).
 */
import type { Catalog } from '../catalog/types.js';
import type { SpecDocument } from '../spec/parse.js';
import type { Spec } from '../spec/schema.js';
import { catalogProblems } from './check.js';
import { compare } from './compare.js';
import { placeData } from './data.js';
import { toPlacement } from './placement.js';
import { money, r2, r6, requirementOf } from './pricing.js';
import { Problems, type Notes, type PlanOptions } from './problems.js';
import { resolveTargets } from './resolve.js';
import { orderTargets } from './strategy.js';
import {
  HOURS_PER_MONTH,
  type BudgetVerdict,
  type DataTransfer,
  type Placement,
  type Plan,
} from './types.js';

export {
  compareCosts,
  costOn,
  egressCost,
  fits,
  requirementOf,
  sourceCloud,
  type OfferingCost,
  type Requirement,
} from './pricing.js';
export type { PlanOptions } from './problems.js';

/** Plans a parsed spec document: like `plan`, with errors at `file:line:column`. */
export function planDocument(doc: SpecDocument, catalog: Catalog): Plan {
  return plan(doc.spec, catalog, { file: doc.file, locate: (path) => doc.locate(path) });
}

/**
 * Turns a spec and a catalog into a placement with costs.
 * @throws McmlError SPEC_INVALID (unknown region or instance type), PLAN_INFEASIBLE (nothing
 *   fits, too few clouds, data with nowhere to go), RESIDENCY_VIOLATION (a data set sent
 *   outside its jurisdiction).
 */
export function plan(spec: Spec, catalog: Catalog, options: PlanOptions = {}): Plan {
  const problems = new Problems(options);
  const found = catalogProblems(spec, catalog);
  if (found.length > 0) throw problems.specInvalid(spec, found);

  const need = requirementOf(spec);
  const notes: Notes = { warnings: [], reasons: [] };
  const resolved = resolveTargets(spec, catalog, need, problems, notes);
  const { ordered, dropped, dataCloud } = orderTargets(
    spec.strategy,
    resolved,
    catalog,
    problems,
    notes,
  );
  const placements = ordered.map((r, i) => toPlacement(r, i + 1, spec.strategy.type, need));
  const data = placeData(spec, catalog, placements, dataCloud, problems, notes);
  const totals = totalsOf(placements, data);
  const budget = spec.budget && budgetOf(spec.budget, totals.monthly, notes);
  notes.reasons.push(
    'pricing: one replica per node; baseline = replicas.min; $/month = $/h × 730; catalog list prices (data/catalog/SOURCES.md)',
  );
  return {
    service: spec.service.name,
    strategy: spec.strategy.type,
    placements,
    data,
    totals,
    ...(budget ? { budget } : {}),
    comparison: compare(spec, catalog, need),
    reasons: notes.reasons,
    warnings: notes.warnings,
    dropped,
  };
}

/** Phase 5: hourly and monthly totals at the baseline and at max, and the one-time transfers. */
function totalsOf(placements: readonly Placement[], data: readonly DataTransfer[]): Plan['totals'] {
  const sum = (f: (p: Placement) => number) => placements.reduce((s, p) => s + f(p), 0);
  const hourly = r6(sum((p) => p.hourly));
  const hourlyAtMax = r6(sum((p) => p.hourlyAtMax));
  return {
    hourly,
    monthly: r2(hourly * HOURS_PER_MONTH),
    hourlyAtMax,
    monthlyAtMax: r2(hourlyAtMax * HOURS_PER_MONTH),
    dataTransferOneTime: r2(data.reduce((s, t) => s + t.cost, 0)),
  };
}

/** The monthly total against the spec's budget: within, warn (at warnAt) or over. */
function budgetOf(
  limit: NonNullable<Spec['budget']>,
  monthly: number,
  notes: Notes,
): BudgetVerdict {
  const share = monthly / limit.monthly;
  const verdict = share > 1 ? 'over' : share >= limit.warnAt ? 'warn' : 'within';
  const pct = `${(share * 100).toFixed(1)}%`;
  const of = `${money(monthly)}/month`;
  notes.reasons.push(
    verdict === 'over'
      ? `budget: ${of} is over the ${money(limit.monthly)} limit (${pct})`
      : verdict === 'warn'
        ? `budget: ${of} is ${pct} of the ${money(limit.monthly)} limit (warnAt ${limit.warnAt * 100}%)`
        : `budget: ${of} is within the ${money(limit.monthly)} limit (${pct})`,
  );
  return { limit: limit.monthly, monthly, share: Math.round(share * 10000) / 10000, verdict };
}
