/**
 * Phase 2 of planning: the strategy decides which targets serve, in which failover order, and
 * (best-of-breed) where spot capacity and data sets go.
 */
import { McmlError } from '../errors.js';
import { CLOUDS, type Catalog } from '../catalog/types.js';
import type { Jurisdiction, Spec } from '../spec/schema.js';
import { cmp, compareCosts, costOn, egressCost, money } from './pricing.js';
import type { Notes, Problems } from './problems.js';
import type { Resolved } from './resolve.js';
import type { PlacementCloud } from './types.js';

type Strategy = Spec['strategy'];

/** The strategy's decision: targets in tier order, those it dropped, the data sets' cloud. */
export interface Ordering {
  ordered: Resolved[];
  dropped: { target: string; reason: string }[];
  dataCloud?: PlacementCloud;
}

/** Cheapest baseline first, then cheapest at max, then spec order. */
const byHourly = (a: Resolved, b: Resolved) =>
  (a.choice?.hourly ?? 0) - (b.choice?.hourly ?? 0) ||
  (a.choice?.hourlyAtMax ?? 0) - (b.choice?.hourlyAtMax ?? 0) ||
  a.index - b.index;

/** The spec's tier (list position when unset), then spec order. */
const bySpecTier = (a: Resolved, b: Resolved) =>
  (a.target.tier ?? a.index + 1) - (b.target.tier ?? b.index + 1) || a.index - b.index;

/**
 * Orders the resolved targets by the spec's strategy (best-of-breed may re-cost targets that
 * lose spot capacity to another cloud).
 * @throws McmlError PLAN_INFEASIBLE when high-availability has too few clouds.
 */
export function orderTargets(
  strategy: Strategy,
  resolved: Resolved[],
  catalog: Catalog,
  problems: Problems,
  notes: Notes,
): Ordering {
  switch (strategy.type) {
    case 'high-availability':
      return {
        ordered: highAvailability(strategy.minClouds, resolved, problems, notes),
        dropped: [],
      };
    case 'cost':
      return cheapestFirst(strategy.maxTargets, resolved, notes);
    case 'best-of-breed':
      return bestOfBreed(strategy.prefer ?? {}, resolved, catalog, notes);
    case 'residency':
      return { ordered: residency(resolved, notes), dropped: [] };
  }
}

function cloudsOf(resolved: readonly Resolved[]): PlacementCloud[] {
  return [...new Set(resolved.map((r) => r.cloud))];
}

/** Tiers as the spec says, across at least `minClouds` clouds; warns on same-cloud neighbours. */
function highAvailability(
  minClouds: number,
  resolved: Resolved[],
  problems: Problems,
  notes: Notes,
): Resolved[] {
  const clouds = cloudsOf(resolved);
  if (clouds.length < minClouds) {
    throw new McmlError(
      'PLAN_INFEASIBLE',
      `high-availability needs targets on at least ${minClouds} clouds (minClouds), the spec has ${clouds.length}: ${clouds.join(', ')}`,
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
  const ordered = [...resolved].sort(bySpecTier);
  notes.reasons.push(
    `high-availability: tiers follow the spec (tier, then list order) across ${clouds.length} clouds (${clouds.join(', ')}); minClouds ${minClouds} met`,
  );
  ordered.forEach((r, i) => {
    const prev = ordered[i - 1];
    if (prev && prev.cloud === r.cloud && r.cloud !== 'local') {
      notes.warnings.push(
        `tiers ${i} and ${i + 1} (${prev.target.name}, ${r.target.name}) are both on ${r.cloud}: one ${r.cloud} outage takes down both`,
      );
    }
  });
  return ordered;
}

/** Cheapest target first; beyond `maxTargets`, the dearest are dropped. */
function cheapestFirst(
  maxTargets: number | undefined,
  resolved: Resolved[],
  notes: Notes,
): Ordering {
  const ordered = [...resolved].sort(byHourly);
  notes.reasons.push('cost: tiers ordered cheapest first (baseline $/h)');
  if (resolved.some((r) => r.target.tier !== undefined)) {
    notes.reasons.push('cost: the spec\'s "tier" fields are ignored; price decides the order');
  }
  if (maxTargets === undefined || ordered.length <= maxTargets) return { ordered, dropped: [] };
  const dropped: Ordering['dropped'] = [];
  const why = `strategy cost keeps the ${maxTargets} cheapest target${maxTargets === 1 ? '' : 's'} (maxTargets)`;
  for (const r of ordered.slice(maxTargets)) {
    dropped.push({ target: r.target.name, reason: why });
    notes.reasons.push(`dropped ${r.target.name} (${money(r.choice?.hourly ?? 0)}/h): ${why}`);
  }
  return { ordered: ordered.slice(0, maxTargets), dropped };
}

type Prefer = NonNullable<Extract<Strategy, { type: 'best-of-breed' }>['prefer']>;

/**
 * Each job on the cloud best at it: serving where on-demand is cheapest, spot capacity where
 * spot is cheapest (other clouds re-costed on-demand), data sets where egress is cheapest.
 */
function bestOfBreed(
  prefer: Prefer,
  resolved: Resolved[],
  catalog: Catalog,
  notes: Notes,
): Ordering {
  const serving = servingCloud(prefer, resolved, notes);
  spotCloud(prefer, resolved, notes);
  const dataCloud = dataSetCloud(prefer, cloudsOf(resolved), catalog, notes);
  const first = resolved.filter((r) => r.cloud === serving).sort(byHourly);
  const rest = resolved.filter((r) => r.cloud !== serving).sort(byHourly);
  return {
    ordered: [...first, ...rest],
    dropped: [],
    ...(dataCloud === undefined ? {} : { dataCloud }),
  };
}

/** Serving: the cloud whose target has the cheapest on-demand node. */
function servingCloud(prefer: Prefer, resolved: Resolved[], notes: Notes): PlacementCloud {
  const priced = resolved.filter((r) => r.choice !== undefined);
  const servingBy = (r: Resolved) => r.choice!.offering.onDemand;
  const serving =
    prefer.serving ??
    [...priced].sort((a, b) => servingBy(a) - servingBy(b) || a.index - b.index)[0]?.cloud ??
    resolved[0]!.cloud;
  notes.reasons.push(
    prefer.serving
      ? `best-of-breed: serving on ${serving} (prefer.serving)`
      : `best-of-breed: serving on ${serving}, the cheapest on-demand price for the service`,
  );
  return serving;
}

/** Spot: the cloud with the cheapest spot node among targets that allow spot. */
function spotCloud(prefer: Prefer, resolved: Resolved[], notes: Notes): void {
  const spotPrice = (r: Resolved) =>
    Math.min(...r.candidates.map((c) => c.offering.spot ?? Infinity));
  const spotters = resolved.filter(
    (r) => r.choice !== undefined && r.target.spot && spotPrice(r) < Infinity,
  );
  const spot =
    prefer.spot ??
    [...spotters].sort((a, b) => spotPrice(a) - spotPrice(b) || a.index - b.index)[0]?.cloud;
  if (spot === undefined) {
    notes.reasons.push('best-of-breed: no target allows spot with a spot offer; all on-demand');
    return;
  }
  notes.reasons.push(
    prefer.spot
      ? `best-of-breed: spot capacity on ${spot} (prefer.spot)`
      : `best-of-breed: spot capacity on ${spot}, the cheapest spot price`,
  );
  if (!resolved.some((r) => r.cloud === spot && r.target.spot)) {
    notes.warnings.push(`prefer.spot is ${spot}, but no ${spot} target allows spot (spot: true)`);
  }
  // Other clouds run on-demand only: recompute their choice without spot.
  for (const r of resolved) {
    if (r.cloud === spot || !r.target.spot || r.cloud === 'local') continue;
    r.candidates = r.candidates
      .map((c) => costOn(c.offering, r.replicas, false, r.target.onDemandFloor))
      .sort(compareCosts);
    r.choice = r.candidates[0]!;
    r.reasons.push(`best-of-breed: on-demand only; spot capacity goes to ${spot}`);
  }
}

/** Data: the cloud with the cheapest internet egress (cheapest to replicate out of). */
function dataSetCloud(
  prefer: Prefer,
  clouds: PlacementCloud[],
  catalog: Catalog,
  notes: Notes,
): PlacementCloud | undefined {
  const firstTier = (c: PlacementCloud) =>
    c === 'local' ? Infinity : egressCost(catalog, c, 'internet', 0, 1);
  const dataCloud =
    prefer.data ?? [...clouds].sort((a, b) => firstTier(a) - firstTier(b) || cmp(a, b))[0];
  if (dataCloud !== undefined) {
    notes.reasons.push(
      prefer.data
        ? `best-of-breed: data sets land on ${dataCloud} (prefer.data)`
        : `best-of-breed: data sets land on ${dataCloud}, the cheapest internet egress`,
    );
  }
  return dataCloud;
}

/**
 * One primary per jurisdiction (the cheapest there), in spec order of jurisdictions; further
 * targets in a jurisdiction follow as in-jurisdiction backups.
 */
function residency(resolved: Resolved[], notes: Notes): Resolved[] {
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
  notes.reasons.push(
    `residency: one primary target per jurisdiction (${[...seen].join(', ')}); data sets stay in their jurisdiction`,
  );
  for (const b of backups) {
    b.reasons.push(`residency: backup for ${b.jurisdiction}, inside ${b.jurisdiction}`);
  }
  for (const p of primaries) {
    p.reasons.push(`residency: serves ${p.jurisdiction}`);
  }
  return [...primaries, ...backups];
}
