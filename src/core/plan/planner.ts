/**
 * The placement planner: `plan(spec, catalog) → Plan`. Pure and deterministic: the same spec
 * and catalog give the same plan, byte for byte.
 *
 * For each target it picks the cheapest catalog offering that fits one replica (GPU model and
 * count, vCPUs, memory; one replica per node), uses spot above the on-demand floor where the
 * target allows it, orders failover tiers by the strategy, prices replicating each data set to
 * its targets, and explains every choice in `reasons`.
 */
import { McmlError, type Issue } from '../errors.js';
import {
  describeLifecycle,
  isCurrent,
  offeringsIn,
  regionInfo,
  regionsOf,
} from '../catalog/query.js';
import { CLOUDS, type Catalog, type EgressKind, type Offering } from '../catalog/types.js';
import { formatPath, memoryGiB, specIssuesError, type SpecDocument } from '../spec/parse.js';
import type { DataSet, GpuModel, Jurisdiction, Spec, Target } from '../spec/schema.js';
import { closestCurrent } from './alternatives.js';
import { catalogProblems, pricedCloud, type SpecProblem } from './check.js';
import {
  HOURS_PER_MONTH,
  type BudgetVerdict,
  type Cloud,
  type CloudComparison,
  type DataTransfer,
  type Placement,
  type PlacementCloud,
  type Plan,
} from './types.js';
import { formatDecimal } from '../decimal.js';

type PathKey = string | number;

/** Where spec paths are in the source text, so errors can name `file:line:column`. */
export interface PlanOptions {
  file?: string;
  locate?: SpecDocument['locate'];
}

/** What one replica needs, normalised. */
export interface Requirement {
  vcpus: number;
  memoryGiB: number;
  gpu?: { model: GpuModel; count: number };
}

/** The cost of running a target's replicas on one offering. */
export interface OfferingCost {
  offering: Offering;
  useSpot: boolean;
  onDemand: number;
  spot: number;
  hourly: number;
  hourlyAtMax: number;
}

const EPSILON = 1e-9;

/** Rounds USD to 6 decimals (hourly figures) to keep float noise out of the JSON. */
function r6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
/** Rounds USD to cents (monthly and one-time figures). */
function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The service's per-replica needs. */
export function requirementOf(spec: Spec): Requirement {
  const r = spec.service.resources;
  return {
    vcpus: r.cpu,
    memoryGiB: memoryGiB(r.memory),
    ...(r.gpu ? { gpu: { model: r.gpu.model, count: r.gpu.count } } : {}),
  };
}

/** Whether one replica fits on the offering. CPU services only take offerings without GPUs. */
export function fits(o: Offering, need: Requirement): boolean {
  if (o.vcpus + EPSILON < need.vcpus || o.memoryGiB + EPSILON < need.memoryGiB) return false;
  if (need.gpu === undefined) return o.gpu === undefined;
  return o.gpu !== undefined && o.gpu.model === need.gpu.model && o.gpu.count >= need.gpu.count;
}

/**
 * The hourly cost of `min` baseline replicas (and of `max`) on an offering: with spot allowed
 * and offered, the first `floor` replicas stay on-demand and the rest run on spot.
 */
export function costOn(
  offering: Offering,
  replicas: { min: number; max: number },
  spotAllowed: boolean,
  floor: number,
): OfferingCost {
  const useSpot = spotAllowed && offering.spot !== undefined;
  const spotPrice = offering.spot ?? 0;
  const onDemand = useSpot ? Math.min(floor, replicas.min) : replicas.min;
  const spot = replicas.min - onDemand;
  const onDemandAtMax = useSpot ? Math.min(floor, replicas.max) : replicas.max;
  return {
    offering,
    useSpot,
    onDemand,
    spot,
    hourly: onDemand * offering.onDemand + spot * spotPrice,
    hourlyAtMax: onDemandAtMax * offering.onDemand + (replicas.max - onDemandAtMax) * spotPrice,
  };
}

/** Orders candidate costs: cheapest baseline, then cheapest at max, then by name and zone. */
export function compareCosts(a: OfferingCost, b: OfferingCost): number {
  return (
    a.hourly - b.hourly ||
    a.hourlyAtMax - b.hourlyAtMax ||
    a.offering.onDemand - b.offering.onDemand ||
    cmp(a.offering.instanceType, b.offering.instanceType) ||
    cmp(a.offering.zone ?? '', b.offering.zone ?? '') ||
    (a.offering.gpu?.count ?? 0) - (b.offering.gpu?.count ?? 0)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeNeed(need: Requirement): string {
  const parts = [];
  if (need.gpu) parts.push(`${need.gpu.count}×${need.gpu.model}`);
  parts.push(`${need.vcpus} vCPU`, `${fmtGiB(need.memoryGiB)} GiB`);
  return parts.join(', ');
}

function fmtGiB(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function describeOffering(o: Offering): string {
  const gpu = o.gpu ? `${o.gpu.count}×${o.gpu.model}, ` : '';
  const name =
    o.attached && o.gpu ? `${o.instanceType} + ${o.gpu.count}×${o.gpu.cloudName}` : o.instanceType;
  return `${name} (${gpu}${o.vcpus} vCPU, ${fmtGiB(o.memoryGiB)} GiB)`;
}

function money(x: number): string {
  const digits = x !== 0 && Math.abs(x) < 1 ? 4 : 2;
  return `$${formatDecimal(x, digits)}`;
}

/** Continent of a jurisdiction, to price egress of data that starts there. */
const JURISDICTION_CONTINENT: Record<Jurisdiction, string | undefined> = {
  us: 'north-america',
  ca: 'north-america',
  eu: 'europe',
  uk: 'europe',
  ch: 'europe',
  asia: 'asia',
  jp: 'asia',
  kr: 'asia',
  in: 'asia',
  au: 'oceania',
  br: 'south-america',
  me: 'middle-east',
  af: 'africa',
  local: undefined,
};

/** The cloud a data source URI lives in; undefined for paths and file:// (this machine). */
export function sourceCloud(uri: string): Cloud | undefined {
  if (uri.startsWith('s3://')) return 'aws';
  if (uri.startsWith('gs://')) return 'gcp';
  if (uri.startsWith('az://') || /^https:\/\/[^/]+\.blob\.core\.windows\.net\//.test(uri)) {
    return 'azure';
  }
  return undefined;
}

/** USD to send `sizeGb` more after `alreadyGb` were sent at the tiered rate of (cloud, kind). */
export function egressCost(
  catalog: Catalog,
  cloud: Cloud,
  kind: EgressKind,
  alreadyGb: number,
  sizeGb: number,
): number {
  const tiers = catalog.egress
    .filter((e) => e.cloud === cloud && e.kind === kind)
    .sort((a, b) => a.fromGb - b.fromGb);
  let cost = 0;
  let start = alreadyGb;
  const end = alreadyGb + sizeGb;
  for (const t of tiers) {
    const top = t.toGb ?? Infinity;
    if (end <= t.fromGb || start >= top) continue;
    const from = Math.max(start, t.fromGb);
    const to = Math.min(end, top);
    cost += (to - from) * t.usdPerGb;
    start = to;
  }
  return cost;
}

interface Resolved {
  index: number;
  target: Target;
  cloud: PlacementCloud;
  jurisdiction: Jurisdiction;
  continent: string;
  replicas: { min: number; max: number };
  candidates: OfferingCost[];
  /** The chosen cost (cheapest candidate); undefined for free local targets. */
  choice?: OfferingCost;
  reasons: string[];
}

class Problems {
  constructor(private readonly options: PlanOptions) {}
  issue(path: PathKey[], message: string, hint?: string): Issue {
    const pos = this.options.locate?.(path);
    const where = formatPath(path);
    return {
      path: pos ? `${this.options.file ?? 'mcml.yaml'}:${pos.line}:${pos.column} ${where}` : where,
      message,
      ...(hint ? { hint } : {}),
      ...(pos ?? {}),
    };
  }
  specInvalid(spec: Spec, problems: SpecProblem[]): McmlError {
    const locate = this.options.locate;
    if (locate !== undefined) {
      return specIssuesError({ spec, file: this.options.file ?? 'mcml.yaml', locate }, problems);
    }
    const n = problems.length;
    return new McmlError('SPEC_INVALID', `${n} problem${n === 1 ? '' : 's'} in the spec`, {
      issues: problems.map((p) => this.issue(p.path, p.message, p.hint)),
    });
  }
}

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
  const strategy = spec.strategy;
  const warnings: string[] = [];
  const reasons: string[] = [];

  // 1. Candidates per target.
  const infeasible: Issue[] = [];
  const resolved: Resolved[] = spec.targets.map((target, index) => {
    const cloud = pricedCloud(target);
    const replicas = {
      min: target.overrides?.replicas?.min ?? spec.service.replicas.min,
      max: target.overrides?.replicas?.max ?? spec.service.replicas.max,
    };
    if (cloud === 'local') {
      if (need.gpu) {
        warnings.push(
          `target ${target.name} is local without "emulates": it runs the ${need.gpu.count}×${need.gpu.model} service on this machine's CPU`,
        );
      }
      return {
        index,
        target,
        cloud,
        jurisdiction: 'local',
        continent: 'local',
        replicas,
        candidates: [],
        reasons: ['local target without "emulates": runs on this machine and costs $0'],
      };
    }
    const info = regionInfo(catalog, cloud, target.region)!;
    const pinned = target.overrides?.instanceType;
    const all = offeringsIn(catalog, cloud, target.region);
    const pool = pinned === undefined ? all : all.filter((o) => o.instanceType === pinned);
    // Retired offerings can no longer be created: never a candidate.
    const fitting = pool.filter((o) => isCurrent(o) && fits(o, need));
    if (fitting.length === 0) {
      infeasible.push(infeasibleIssue(problems, catalog, need, cloud, target, index, pool, all));
    }
    const candidates = fitting
      .map((o) => costOn(o, replicas, target.spot, target.onDemandFloor))
      .sort(compareCosts);
    const res: Resolved = {
      index,
      target,
      cloud,
      jurisdiction: info.jurisdiction,
      continent: info.continent,
      replicas,
      candidates,
      reasons: [],
    };
    if (candidates[0]) {
      res.choice = candidates[0];
      const l = candidates[0].offering.lifecycle;
      if (l.status === 'retiring') {
        warnings.push(
          `target ${target.name}: ${candidates[0].offering.instanceType} is ${describeLifecycle(l)}` +
            (l.successor === undefined ? '' : `; the provider recommends ${l.successor}`) +
            ': plan the move before then',
        );
      }
    }
    return res;
  });
  if (infeasible.length > 0) {
    const first = infeasible[0]!;
    throw new McmlError(
      'PLAN_INFEASIBLE',
      infeasible.length === 1
        ? first.message
        : `${infeasible.length} targets have no offering that fits the service`,
      infeasible.length === 1
        ? { issues: [{ ...first, message: 'this target' }] }
        : {
            issues: infeasible,
            hint: 'move each target to a region that offers what the service needs, or change service.resources',
          },
    );
  }

  // 2. Strategy: which targets, in which order, spot where.
  const clouds = [...new Set(resolved.map((r) => r.cloud))];
  const dropped: { target: string; reason: string }[] = [];
  let ordered: Resolved[];
  let dataCloud: PlacementCloud | undefined;
  const byHourly = (a: Resolved, b: Resolved) =>
    (a.choice?.hourly ?? 0) - (b.choice?.hourly ?? 0) ||
    (a.choice?.hourlyAtMax ?? 0) - (b.choice?.hourlyAtMax ?? 0) ||
    a.index - b.index;
  const bySpecTier = (a: Resolved, b: Resolved) =>
    (a.target.tier ?? a.index + 1) - (b.target.tier ?? b.index + 1) || a.index - b.index;
  switch (strategy.type) {
    case 'high-availability': {
      if (clouds.length < strategy.minClouds) {
        throw new McmlError(
          'PLAN_INFEASIBLE',
          `high-availability needs targets on at least ${strategy.minClouds} clouds (minClouds), the spec has ${clouds.length}: ${clouds.join(', ')}`,
          {
            issues: [
              problems.issue(
                ['strategy', 'minClouds'],
                `${clouds.length} distinct cloud${clouds.length === 1 ? '' : 's'} among the targets`,
              ),
            ],
            hint: `add a target on ${CLOUDS.filter((c) => !clouds.includes(c)).join(' or ') || 'another cloud'}, or lower strategy.minClouds`,
          },
        );
      }
      ordered = [...resolved].sort(bySpecTier);
      reasons.push(
        `high-availability: tiers follow the spec (tier, then list order) across ${clouds.length} clouds (${clouds.join(', ')}); minClouds ${strategy.minClouds} met`,
      );
      ordered.forEach((r, i) => {
        const prev = ordered[i - 1];
        if (prev && prev.cloud === r.cloud && r.cloud !== 'local') {
          warnings.push(
            `tiers ${i} and ${i + 1} (${prev.target.name}, ${r.target.name}) are both on ${r.cloud}: one ${r.cloud} outage takes down both`,
          );
        }
      });
      break;
    }
    case 'cost': {
      ordered = [...resolved].sort(byHourly);
      reasons.push('cost: tiers ordered cheapest first (baseline $/h)');
      if (resolved.some((r) => r.target.tier !== undefined)) {
        reasons.push('cost: the spec\'s "tier" fields are ignored; price decides the order');
      }
      if (strategy.maxTargets !== undefined && ordered.length > strategy.maxTargets) {
        for (const r of ordered.slice(strategy.maxTargets)) {
          const why = `strategy cost keeps the ${strategy.maxTargets} cheapest target${strategy.maxTargets === 1 ? '' : 's'} (maxTargets)`;
          dropped.push({ target: r.target.name, reason: why });
          reasons.push(`dropped ${r.target.name} (${money(r.choice?.hourly ?? 0)}/h): ${why}`);
        }
        ordered = ordered.slice(0, strategy.maxTargets);
      }
      break;
    }
    case 'best-of-breed': {
      const prefer = strategy.prefer ?? {};
      const priced = resolved.filter((r) => r.choice !== undefined);
      // Serving: the cloud whose target has the cheapest on-demand node.
      const servingBy = (r: Resolved) => r.choice!.offering.onDemand;
      const serving =
        prefer.serving ??
        [...priced].sort((a, b) => servingBy(a) - servingBy(b) || a.index - b.index)[0]?.cloud ??
        resolved[0]!.cloud;
      reasons.push(
        prefer.serving
          ? `best-of-breed: serving on ${serving} (prefer.serving)`
          : `best-of-breed: serving on ${serving}, the cheapest on-demand price for the service`,
      );
      // Spot: the cloud with the cheapest spot node among targets that allow spot.
      const spotPrice = (r: Resolved) =>
        Math.min(...r.candidates.map((c) => c.offering.spot ?? Infinity));
      const spotters = priced.filter((r) => r.target.spot && spotPrice(r) < Infinity);
      const spotCloud =
        prefer.spot ??
        [...spotters].sort((a, b) => spotPrice(a) - spotPrice(b) || a.index - b.index)[0]?.cloud;
      if (spotCloud === undefined) {
        reasons.push('best-of-breed: no target allows spot with a spot offer; all on-demand');
      } else {
        reasons.push(
          prefer.spot
            ? `best-of-breed: spot capacity on ${spotCloud} (prefer.spot)`
            : `best-of-breed: spot capacity on ${spotCloud}, the cheapest spot price`,
        );
        if (!resolved.some((r) => r.cloud === spotCloud && r.target.spot)) {
          warnings.push(
            `prefer.spot is ${spotCloud}, but no ${spotCloud} target allows spot (spot: true)`,
          );
        }
        // Other clouds run on-demand only: recompute their choice without spot.
        for (const r of resolved) {
          if (r.cloud === spotCloud || !r.target.spot || r.cloud === 'local') continue;
          r.candidates = r.candidates
            .map((c) => costOn(c.offering, r.replicas, false, r.target.onDemandFloor))
            .sort(compareCosts);
          r.choice = r.candidates[0]!;
          r.reasons.push(`best-of-breed: on-demand only; spot capacity goes to ${spotCloud}`);
        }
      }
      // Data: the cloud with the cheapest internet egress (cheapest to replicate out of).
      const firstTier = (c: PlacementCloud) =>
        c === 'local' ? Infinity : egressCost(catalog, c, 'internet', 0, 1);
      dataCloud =
        prefer.data ?? [...clouds].sort((a, b) => firstTier(a) - firstTier(b) || cmp(a, b))[0];
      if (dataCloud !== undefined) {
        reasons.push(
          prefer.data
            ? `best-of-breed: data sets land on ${dataCloud} (prefer.data)`
            : `best-of-breed: data sets land on ${dataCloud}, the cheapest internet egress`,
        );
      }
      const first = resolved.filter((r) => r.cloud === serving).sort(byHourly);
      const rest = resolved.filter((r) => r.cloud !== serving).sort(byHourly);
      ordered = [...first, ...rest];
      break;
    }
    case 'residency': {
      // One primary per jurisdiction (the cheapest there), in spec order of jurisdictions;
      // further targets in a jurisdiction follow as in-jurisdiction backups.
      const specOrder = [...resolved].sort(bySpecTier);
      const primaries: Resolved[] = [];
      const backups: Resolved[] = [];
      const seen = new Set<Jurisdiction>();
      for (const r of specOrder) {
        if (seen.has(r.jurisdiction)) continue;
        seen.add(r.jurisdiction);
        const same = specOrder.filter((x) => x.jurisdiction === r.jurisdiction).sort(byHourly);
        primaries.push(same[0]!);
        backups.push(...same.slice(1));
      }
      ordered = [...primaries, ...backups];
      reasons.push(
        `residency: one primary target per jurisdiction (${[...seen].join(', ')}); data sets stay in their jurisdiction`,
      );
      for (const b of backups) {
        b.reasons.push(`residency: backup for ${b.jurisdiction}, inside ${b.jurisdiction}`);
      }
      for (const p of primaries) {
        p.reasons.push(`residency: serves ${p.jurisdiction}`);
      }
      break;
    }
  }

  // 3. Placements.
  const placements: Placement[] = ordered.map((r, i) => toPlacement(r, i + 1, strategy.type, need));

  // 4. Data sets: who receives what, and the egress cost.
  const data: DataTransfer[] = [];
  const sentByCloud = new Map<Cloud, number>();
  const violations: Issue[] = [];
  const homeless: Issue[] = [];
  const index = indexPlacements(placements);
  spec.data.forEach((d, di) => {
    const receivers = receiversOf(d, di, index, spec, dataCloud, problems, {
      warnings,
      reasons,
      violations,
      homeless,
    });
    if (d.sizeGb === undefined && receivers.length > 0) {
      warnings.push(`data set ${d.name} has no sizeGb: its egress cost is not estimated`);
    }
    for (const p of receivers) {
      p.dataSets.push(d.name);
      data.push(transferOf(d, p, catalog, sentByCloud));
    }
  });
  if (violations.length > 0) {
    throw new McmlError(
      'RESIDENCY_VIOLATION',
      violations.length === 1
        ? violations[0]!.message
        : `${violations.length} data set targets are outside their jurisdiction`,
      {
        issues:
          violations.length === 1 ? [{ ...violations[0]!, message: 'this target' }] : violations,
        hint: 'a data set only goes to targets in its jurisdiction: fix data[].targets or the jurisdiction',
      },
    );
  }
  if (homeless.length > 0) {
    throw new McmlError(
      'PLAN_INFEASIBLE',
      homeless.length === 1
        ? homeless[0]!.message
        : `${homeless.length} data sets have no target in their jurisdiction`,
      {
        issues: homeless.length === 1 ? [{ ...homeless[0]!, message: 'this data set' }] : homeless,
        hint: 'add a target in a region of that jurisdiction, or change the data set jurisdiction',
      },
    );
  }

  // 5. Totals, budget, comparison.
  const sum = (f: (p: Placement) => number) => placements.reduce((s, p) => s + f(p), 0);
  const hourly = r6(sum((p) => p.hourly));
  const hourlyAtMax = r6(sum((p) => p.hourlyAtMax));
  const totals = {
    hourly,
    monthly: r2(hourly * HOURS_PER_MONTH),
    hourlyAtMax,
    monthlyAtMax: r2(hourlyAtMax * HOURS_PER_MONTH),
    dataTransferOneTime: r2(data.reduce((s, t) => s + t.cost, 0)),
  };
  let budget: BudgetVerdict | undefined;
  if (spec.budget) {
    const share = totals.monthly / spec.budget.monthly;
    const verdict = share > 1 ? 'over' : share >= spec.budget.warnAt ? 'warn' : 'within';
    budget = {
      limit: spec.budget.monthly,
      monthly: totals.monthly,
      share: Math.round(share * 10000) / 10000,
      verdict,
    };
    const pct = `${(share * 100).toFixed(1)}%`;
    if (verdict === 'over') {
      reasons.push(
        `budget: ${money(totals.monthly)}/month is over the ${money(spec.budget.monthly)} limit (${pct})`,
      );
    } else if (verdict === 'warn') {
      reasons.push(
        `budget: ${money(totals.monthly)}/month is ${pct} of the ${money(spec.budget.monthly)} limit (warnAt ${spec.budget.warnAt * 100}%)`,
      );
    } else {
      reasons.push(
        `budget: ${money(totals.monthly)}/month is within the ${money(spec.budget.monthly)} limit (${pct})`,
      );
    }
  }
  reasons.push(
    'pricing: one replica per node; baseline = replicas.min; $/month = $/h × 730; catalog list prices (data/catalog/SOURCES.md)',
  );

  return {
    service: spec.service.name,
    strategy: strategy.type,
    placements,
    data,
    totals,
    ...(budget ? { budget } : {}),
    comparison: compare(spec, catalog, need),
    reasons,
    warnings,
    dropped,
  };
}

function infeasibleIssue(
  problems: Problems,
  catalog: Catalog,
  need: Requirement,
  cloud: Cloud,
  target: Target,
  index: number,
  pool: readonly Offering[],
  region: readonly Offering[],
): Issue {
  const pinned = target.overrides?.instanceType;
  const retired = pool.filter((o) => !isCurrent(o) && fits(o, need));
  if (retired.length > 0)
    return retiredIssue(problems, catalog, need, cloud, target, index, retired, region);
  if (pinned !== undefined) {
    const o = pool[0];
    return problems.issue(
      ['targets', index, 'overrides', 'instanceType'],
      `${pinned} in ${target.region} on ${cloud} does not fit the service (${describeNeed(need)})` +
        (o ? `: it has ${describeOffering(o).replace(/^\S+ /, '')}` : ''),
      'remove the pinned instance type or pick one that fits',
    );
  }
  const path: PathKey[] = ['targets', index, 'region'];
  if (need.gpu) {
    const model = need.gpu.model;
    const withModel = pool.filter((o) => isCurrent(o) && o.gpu?.model === model);
    if (withModel.length === 0) {
      const regions = currentRegions(catalog, cloud, need);
      const here = [...new Set(pool.flatMap((o) => (o.gpu && isCurrent(o) ? [o.gpu.model] : [])))];
      const otherClouds = otherCloudsWith(catalog, cloud, need);
      const message =
        `no ${model} offering in ${target.region} on ${cloud}; ` +
        (regions.length > 0
          ? `regions with ${model} on ${cloud}: ${regions.join(', ')}`
          : `${cloud} offers no ${model} that fits in any catalog region` +
            (otherClouds.length > 0 ? ` (clouds with it: ${otherClouds.join(', ')})` : ''));
      const hint =
        here.length > 0
          ? `GPU models on ${cloud} in ${target.region}: ${here.join(', ')}`
          : `${cloud} has no GPU offerings in ${target.region}`;
      return problems.issue(path, message, hint);
    }
    const largest = [...withModel].sort(
      (a, b) => b.gpu!.count - a.gpu!.count || b.vcpus - a.vcpus || b.memoryGiB - a.memoryGiB,
    )[0]!;
    return problems.issue(
      path,
      `no ${cloud} offering in ${target.region} has ${describeNeed(need)}; the largest ${model} offering there is ${describeOffering(largest)}`,
      'lower service.resources, or pick a region or cloud with larger machines',
    );
  }
  const largest = [...pool]
    .filter((o) => o.gpu === undefined && isCurrent(o))
    .sort((a, b) => b.vcpus - a.vcpus || b.memoryGiB - a.memoryGiB)[0];
  return problems.issue(
    path,
    `no ${cloud} CPU offering in ${target.region} has ${describeNeed(need)}` +
      (largest ? `; the largest there is ${describeOffering(largest)}` : ''),
    'lower service.resources.cpu or memory',
  );
}

/** Regions of `cloud` where a current offering fits. */
function currentRegions(catalog: Catalog, cloud: Cloud, need: Requirement): string[] {
  return regionsOf(catalog, cloud).filter((r) =>
    offeringsIn(catalog, cloud, r).some((o) => isCurrent(o) && fits(o, need)),
  );
}

/** Other clouds with a current offering that fits, anywhere in the catalog. */
function otherCloudsWith(catalog: Catalog, cloud: Cloud, need: Requirement): Cloud[] {
  return CLOUDS.filter(
    (c) =>
      c !== cloud && catalog.offerings.some((o) => o.cloud === c && isCurrent(o) && fits(o, need)),
  );
}

/**
 * Only retired offerings would fit: say which retired and when, and name the closest current
 * offerings in that region (the provider's successor first), other regions and clouds.
 */
function retiredIssue(
  problems: Problems,
  catalog: Catalog,
  need: Requirement,
  cloud: Cloud,
  target: Target,
  index: number,
  retired: readonly Offering[],
  region: readonly Offering[],
): Issue {
  const pinned = target.overrides?.instanceType;
  const names = [...new Set(retired.map((o) => o.instanceType))];
  const l = [...retired].sort((a, b) => a.onDemand - b.onDemand)[0]!.lifecycle;
  const what = need.gpu ? `${need.gpu.count}×${need.gpu.model}` : describeNeed(need);
  const message =
    pinned !== undefined
      ? `${pinned} in ${target.region} on ${cloud} was ${describeLifecycle(l)}: it can no longer be created`
      : `no current ${cloud} offering in ${target.region} has ${what}: ${names.join(', ')} ${names.length === 1 ? 'was' : 'were'} ${describeLifecycle(l)} and can no longer be created`;
  // The successor of the retired offering the planner would have picked (the cheapest).
  const cheapest = [...retired].sort((a, b) => a.onDemand - b.onDemand)[0]!;
  const successor = cheapest.lifecycle.successor;
  const successors = new Set(successor === undefined ? [] : [successor]);
  const alternatives = closestCurrent(region, need, successors).map(
    (o) =>
      `${describeOffering(o)} at ${money(o.onDemand)}/h${successors.has(o.instanceType) ? " (the provider's successor)" : ''}`,
  );
  const parts: string[] = [];
  if (alternatives.length > 0) {
    parts.push(`closest current offerings in ${target.region}: ${alternatives.join('; ')}`);
  }
  const regions = currentRegions(catalog, cloud, need);
  if (regions.length > 0) parts.push(`current ${what} on ${cloud}: ${regions.join(', ')}`);
  const others = otherCloudsWith(catalog, cloud, need);
  if (others.length > 0) parts.push(`clouds with a current ${what}: ${others.join(', ')}`);
  if (parts.length === 0) parts.push(`${cloud} has nothing current in ${target.region} that fits`);
  return problems.issue(
    pinned !== undefined
      ? ['targets', index, 'overrides', 'instanceType']
      : ['targets', index, 'region'],
    message,
    parts.join('; ') +
      (need.gpu ? '; change service.resources.gpu.model, the region or the cloud' : ''),
  );
}

function toPlacement(
  r: Resolved,
  tier: number,
  strategy: Spec['strategy']['type'],
  need: Requirement,
): Placement {
  const t = r.target;
  // provider and cloud agree by construction (pricedCloud): a cloud target's cloud is its provider.
  const common = {
    target: t.name,
    provider: t.provider as 'local',
    cloud: r.cloud,
    region: t.region,
    jurisdiction: r.jurisdiction,
    continent: r.continent,
    tier,
    ...(t.bucket === undefined ? {} : { bucket: t.bucket }),
    ...(t.context === undefined ? {} : { context: t.context }),
    ...(t.endpoint === undefined ? {} : { endpoint: t.endpoint }),
    weight: t.weight,
    dataSets: [] as string[],
  };
  const tierReason =
    strategy === 'high-availability'
      ? t.tier !== undefined
        ? `tier ${tier}: the spec sets tier ${t.tier}`
        : `tier ${tier}: position ${r.index + 1} in the spec`
      : strategy === 'cost'
        ? `tier ${tier}: ${ordinal(tier)} cheapest target`
        : `tier ${tier}`;
  const c = r.choice;
  if (c === undefined) {
    return {
      ...common,
      instanceType: 'local',
      vcpus: need.vcpus,
      memoryGiB: need.memoryGiB,
      replicas: { min: r.replicas.min, max: r.replicas.max, onDemand: r.replicas.min, spot: 0 },
      capacity: 'on-demand',
      unitPrice: { onDemand: 0 },
      priceSource: 'local',
      hourly: 0,
      monthly: 0,
      hourlyAtMax: 0,
      monthlyAtMax: 0,
      reasons: [tierReason, ...r.reasons],
    };
  }
  const o = c.offering;
  const reasons = [tierReason];
  const where =
    t.provider === 'local' ? `${r.cloud} ${t.region} (emulated by a local target)` : t.region;
  const next = r.candidates.find(
    (x) =>
      x.offering.instanceType !== o.instanceType ||
      (x.offering.gpu?.count ?? 0) !== (o.gpu?.count ?? 0),
  );
  reasons.push(
    (t.overrides?.instanceType !== undefined
      ? `pinned by overrides.instanceType: ${describeOffering(o)}`
      : `cheapest offering in ${where} that fits ${describeNeed(need)}: ${describeOffering(o)}`) +
      ` at ${money(o.onDemand)}/h on-demand` +
      (o.spot !== undefined ? `, ${money(o.spot)}/h spot` : ', no spot offer') +
      (next && t.overrides?.instanceType === undefined
        ? `; next: ${next.offering.instanceType} at ${money(next.hourly)}/h for the baseline`
        : ''),
  );
  if (o.priceSource === 'estimate') {
    reasons.push(
      `the ${o.region} price is an estimate (a US list price times a regional factor; data/catalog/SOURCES.md)`,
    );
  }
  if (o.attached) {
    reasons.push(
      `GCP: ${o.instanceType} VM + ${o.gpu!.count}× ${o.gpu!.cloudName} accelerator, prices summed`,
    );
  }
  if (t.spot) {
    if (!c.useSpot) {
      if (o.spot === undefined)
        reasons.push(`spot allowed, but ${o.instanceType} has no spot offer here: on-demand`);
    } else {
      reasons.push(
        `spot allowed: ${c.onDemand} on-demand (onDemandFloor ${t.onDemandFloor}) + ${c.spot} spot of ${r.replicas.min} baseline replicas; scale-out above the floor on spot`,
      );
    }
  }
  reasons.push(...r.reasons);
  if (t.provider === 'local') {
    reasons.push(`local target: runs on this machine, priced as ${r.cloud} ${t.region}`);
  }
  const maxSpot = c.useSpot ? r.replicas.max - Math.min(t.onDemandFloor, r.replicas.max) : 0;
  const capacity: Placement['capacity'] =
    !c.useSpot || maxSpot === 0
      ? 'on-demand'
      : Math.min(t.onDemandFloor, r.replicas.max) === 0
        ? 'spot'
        : 'mixed';
  const hourly = r6(c.hourly);
  const hourlyAtMax = r6(c.hourlyAtMax);
  return {
    ...common,
    ...(o.zone === undefined ? {} : { zone: o.zone }),
    instanceType: o.instanceType,
    vcpus: o.vcpus,
    memoryGiB: o.memoryGiB,
    ...(o.gpu ? { gpu: { ...o.gpu } } : {}),
    replicas: { min: r.replicas.min, max: r.replicas.max, onDemand: c.onDemand, spot: c.spot },
    capacity,
    unitPrice: { onDemand: o.onDemand, ...(o.spot === undefined ? {} : { spot: o.spot }) },
    priceSource: o.priceSource,
    hourly,
    monthly: r2(c.hourly * HOURS_PER_MONTH),
    hourlyAtMax,
    monthlyAtMax: r2(c.hourlyAtMax * HOURS_PER_MONTH),
    reasons,
  };
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}

/** Placements by target name and by jurisdiction, built once for every data set's look-ups. */
interface PlacementIndex {
  byName: Map<string, Placement>;
  byJurisdiction: Map<Jurisdiction, Placement[]>;
  /** "us, eu": the jurisdictions of all targets, for messages. */
  jurisdictions: string;
}

function indexPlacements(placements: readonly Placement[]): PlacementIndex {
  const byName = new Map<string, Placement>();
  const byJurisdiction = new Map<Jurisdiction, Placement[]>();
  for (const p of placements) {
    byName.set(p.target, p);
    const same = byJurisdiction.get(p.jurisdiction);
    if (same) same.push(p);
    else byJurisdiction.set(p.jurisdiction, [p]);
  }
  return { byName, byJurisdiction, jurisdictions: [...byJurisdiction.keys()].join(', ') };
}

function receiversOf(
  d: DataSet,
  di: number,
  index: PlacementIndex,
  spec: Spec,
  dataCloud: PlacementCloud | undefined,
  problems: Problems,
  out: { warnings: string[]; reasons: string[]; violations: Issue[]; homeless: Issue[] },
): Placement[] {
  const residency = spec.strategy.type === 'residency';
  const strict = spec.strategy.type === 'residency' ? spec.strategy.strict : true;
  if (d.targets !== undefined) {
    const chosen: Placement[] = [];
    d.targets.forEach((name, j) => {
      const p = index.byName.get(name);
      if (p === undefined) {
        out.warnings.push(
          `data set ${d.name}: target ${name} is not in the plan (dropped by the strategy)`,
        );
        return;
      }
      if (p.jurisdiction !== d.jurisdiction) {
        const message = `data set "${d.name}" is pinned to ${d.jurisdiction} but target "${name}" is in ${p.jurisdiction} (${p.cloud} ${p.region})`;
        if (!strict) {
          out.warnings.push(`${message}: allowed because strategy.strict is false`);
          chosen.push(p);
        } else {
          out.violations.push(
            problems.issue(
              ['data', di, 'targets', j],
              message,
              `remove "${name}" from data[${di}].targets`,
            ),
          );
        }
        return;
      }
      chosen.push(p);
    });
    return chosen;
  }
  const inJurisdiction = index.byJurisdiction.get(d.jurisdiction) ?? [];
  if (inJurisdiction.length === 0) {
    const where = index.jurisdictions;
    const message = `data set "${d.name}" is pinned to ${d.jurisdiction} but no target is in ${d.jurisdiction} (targets are in: ${where})`;
    if (residency) out.homeless.push(problems.issue(['data', di, 'jurisdiction'], message));
    else out.warnings.push(`${message}: it is not replicated`);
    return [];
  }
  if (dataCloud !== undefined) {
    const onDataCloud = inJurisdiction.filter((p) => p.cloud === dataCloud);
    if (onDataCloud.length > 0) {
      out.reasons.push(
        `data set ${d.name} (${d.jurisdiction}) goes to the ${dataCloud} targets: ${onDataCloud.map((p) => p.target).join(', ')}`,
      );
      return onDataCloud;
    }
    out.reasons.push(
      `data set ${d.name} (${d.jurisdiction}): no ${dataCloud} target in ${d.jurisdiction}, so every target there receives it`,
    );
  } else {
    out.reasons.push(
      `data set ${d.name} (${d.jurisdiction}) goes to every target in ${d.jurisdiction}: ${inJurisdiction.map((p) => p.target).join(', ')}`,
    );
  }
  return inJurisdiction;
}

function transferOf(
  d: DataSet,
  p: Placement,
  catalog: Catalog,
  sentByCloud: Map<Cloud, number>,
): DataTransfer {
  const size = d.sizeGb ?? 0;
  const from = sourceCloud(d.source);
  const base = { dataSet: d.name, jurisdiction: d.jurisdiction, to: p.target, sizeGb: size };
  if (from === undefined) {
    return { ...base, kind: 'none', pricePerGb: 0, cost: 0 };
  }
  let kind: EgressKind;
  if (p.cloud === from) {
    const sourceContinent = JURISDICTION_CONTINENT[d.jurisdiction];
    kind =
      sourceContinent === undefined || sourceContinent === p.continent
        ? 'inter-region'
        : 'inter-continent';
  } else kind = 'internet';
  let cost: number;
  if (kind === 'internet') {
    // Internet tiers are per month per sending account: stack this plan's transfers.
    const already = sentByCloud.get(from) ?? 0;
    cost = egressCost(catalog, from, kind, already, size);
    sentByCloud.set(from, already + size);
  } else cost = egressCost(catalog, from, kind, 0, size);
  return {
    ...base,
    fromCloud: from,
    kind,
    pricePerGb: size > 0 ? r6(cost / size) : egressCost(catalog, from, kind, 0, 1),
    cost: r2(cost),
  };
}

/** The same service on each cloud alone, in its cheapest region, all on-demand. */
function compare(spec: Spec, catalog: Catalog, need: Requirement): CloudComparison[] {
  const replicas = Math.max(1, spec.service.replicas.min);
  return CLOUDS.map((cloud): CloudComparison => {
    let best: Offering | undefined;
    for (const region of regionsOf(catalog, cloud)) {
      for (const o of offeringsIn(catalog, cloud, region)) {
        if (!isCurrent(o) || !fits(o, need)) continue;
        if (
          best === undefined ||
          o.onDemand < best.onDemand - EPSILON ||
          (Math.abs(o.onDemand - best.onDemand) <= EPSILON &&
            (o.spot ?? Infinity) < (best.spot ?? Infinity))
        ) {
          best = o;
        }
      }
    }
    if (best === undefined) {
      return {
        cloud,
        region: '',
        instanceType: '',
        replicas,
        hourly: 0,
        monthly: 0,
        unavailable: `no ${cloud} offering in the catalog fits ${describeNeed(need)}`,
      };
    }
    const hourly = r6(best.onDemand * replicas);
    return {
      cloud,
      region: best.region,
      instanceType: best.instanceType,
      ...(best.gpu ? { gpu: { ...best.gpu } } : {}),
      replicas,
      hourly,
      monthly: r2(best.onDemand * replicas * HOURS_PER_MONTH),
      ...(best.spot === undefined ? {} : { hourlySpot: r6(best.spot * replicas) }),
    };
  });
}
