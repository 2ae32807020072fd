/**
 * Phase 1 of planning: each target resolved to its cloud, jurisdiction, replicas and the
 * offerings that fit one replica, cheapest first; the cheapest is its choice.
 */
import { McmlError, type Issue } from '../errors.js';
import { describeLifecycle, isCurrent, offeringsIn, regionInfo } from '../catalog/query.js';
import type { Catalog } from '../catalog/types.js';
import type { Jurisdiction, Spec, Target } from '../spec/schema.js';
import { pricedCloud } from './check.js';
import { infeasibleIssue } from './infeasible.js';
import { compareCosts, costOn, fits, type OfferingCost, type Requirement } from './pricing.js';
import type { Notes, Problems } from './problems.js';
import type { Cloud, PlacementCloud } from './types.js';

/** A target with its candidates; strategies order these, placements are made from them. */
export interface Resolved {
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

/**
 * Resolves every target.
 * @throws McmlError PLAN_INFEASIBLE naming each target where nothing current fits.
 */
export function resolveTargets(
  spec: Spec,
  catalog: Catalog,
  need: Requirement,
  problems: Problems,
  notes: Notes,
): Resolved[] {
  const infeasible: Issue[] = [];
  const resolved = spec.targets.map((target, index) => {
    const replicas = {
      min: target.overrides?.replicas?.min ?? spec.service.replicas.min,
      max: target.overrides?.replicas?.max ?? spec.service.replicas.max,
    };
    const cloud = pricedCloud(target);
    if (cloud === 'local') return localTarget(target, index, replicas, need, notes);
    const res = cloudTarget(catalog, cloud, target, index, replicas, need);
    if (res.choice === undefined) {
      const { all, pool } = offeringsFor(catalog, cloud, target);
      infeasible.push(infeasibleIssue(problems, catalog, need, cloud, target, index, pool, all));
    } else warnIfRetiring(res.choice, target, notes);
    return res;
  });
  if (infeasible.length > 0) throw nothingFits(infeasible);
  return resolved;
}

/** A local target without "emulates": this machine, $0, no candidates. */
function localTarget(
  target: Target,
  index: number,
  replicas: Resolved['replicas'],
  need: Requirement,
  notes: Notes,
): Resolved {
  if (need.gpu) {
    notes.warnings.push(
      `target ${target.name} is local without "emulates": it runs the ${need.gpu.count}×${need.gpu.model} service on this machine's CPU`,
    );
  }
  return {
    index,
    target,
    cloud: 'local',
    jurisdiction: 'local',
    continent: 'local',
    replicas,
    candidates: [],
    reasons: ['local target without "emulates": runs on this machine and costs $0'],
  };
}

/** A cloud target: the current offerings that fit (the pinned one only), cheapest first. */
function cloudTarget(
  catalog: Catalog,
  cloud: Cloud,
  target: Target,
  index: number,
  replicas: Resolved['replicas'],
  need: Requirement,
): Resolved {
  const info = regionInfo(catalog, cloud, target.region)!;
  const { pool } = offeringsFor(catalog, cloud, target);
  // Retired offerings can no longer be created: never a candidate.
  const candidates = pool
    .filter((o) => isCurrent(o) && fits(o, need))
    .map((o) => costOn(o, replicas, target.spot, target.onDemandFloor))
    .sort(compareCosts);
  return {
    index,
    target,
    cloud,
    jurisdiction: info.jurisdiction,
    continent: info.continent,
    replicas,
    candidates,
    ...(candidates[0] === undefined ? {} : { choice: candidates[0] }),
    reasons: [],
  };
}

/** The region's offerings, and those the target may use (the pinned instance type only). */
function offeringsFor(catalog: Catalog, cloud: Cloud, target: Target) {
  const all = offeringsIn(catalog, cloud, target.region);
  const pinned = target.overrides?.instanceType;
  return { all, pool: pinned === undefined ? all : all.filter((o) => o.instanceType === pinned) };
}

function warnIfRetiring(choice: OfferingCost, target: Target, notes: Notes): void {
  const l = choice.offering.lifecycle;
  if (l.status !== 'retiring') return;
  notes.warnings.push(
    `target ${target.name}: ${choice.offering.instanceType} is ${describeLifecycle(l)}` +
      (l.successor === undefined ? '' : `; the provider recommends ${l.successor}`) +
      ': plan the move before then',
  );
}

function nothingFits(infeasible: Issue[]): McmlError {
  const first = infeasible[0]!;
  return new McmlError(
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
