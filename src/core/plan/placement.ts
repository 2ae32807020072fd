/** A resolved target turned into its placement: tier, capacity, prices and the reasons. */
import {
  HOURS_PER_MONTH,
  type LocalPlacement,
  type Placement,
  type PlacementBase,
} from './types.js';
import type { Spec } from '../spec/schema.js';
import {
  describeNeed,
  describeOffering,
  money,
  r2,
  r6,
  type OfferingCost,
  type Requirement,
} from './pricing.js';
import type { Resolved } from './resolve.js';

/** The target's placement: its tier and, priced or free (local), its capacity and reasons. */
export function toPlacement(
  r: Resolved,
  tier: number,
  strategy: Spec['strategy']['type'],
  need: Requirement,
): Placement {
  const common = commonFields(r, tier);
  const why = tierReason(r, tier, strategy);
  const c = r.choice;
  if (c === undefined) return { ...common, ...freeLocal(r, need), reasons: [why, ...r.reasons] };
  const reasons = [why, ...offeringReasons(r, c, need), ...r.reasons];
  if (r.target.provider === 'local') {
    reasons.push(`local target: runs on this machine, priced as ${r.cloud} ${r.target.region}`);
  }
  return { ...common, ...priced(r, c), reasons };
}

/** What every placement says about its target (typed as local: see commonFields). */
type CommonFields = Pick<
  LocalPlacement,
  | 'target'
  | 'provider'
  | 'cloud'
  | 'region'
  | 'jurisdiction'
  | 'continent'
  | 'tier'
  | 'bucket'
  | 'context'
  | 'endpoint'
  | 'weight'
  | 'dataSets'
>;

/** A placement's offering, replicas and prices. */
type Sizing = Omit<PlacementBase, keyof CommonFields | 'reasons'>;

/** What every placement says about its target, priced or not. */
function commonFields(r: Resolved, tier: number): CommonFields {
  const t = r.target;
  // provider and cloud agree by construction (pricedCloud): a cloud target's cloud is its provider.
  return {
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
}

/** Why the target has its tier, in the strategy's terms. */
function tierReason(r: Resolved, tier: number, strategy: Spec['strategy']['type']): string {
  const t = r.target;
  return strategy === 'high-availability'
    ? t.tier !== undefined
      ? `tier ${tier}: the spec sets tier ${t.tier}`
      : `tier ${tier}: position ${r.index + 1} in the spec`
    : strategy === 'cost'
      ? `tier ${tier}: ${ordinal(tier)} cheapest target`
      : `tier ${tier}`;
}

/** A free local target: the need as its size, on-demand, nothing to pay. */
function freeLocal(r: Resolved, need: Requirement): Sizing {
  return {
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
  };
}

/**
 * Why this offering: cheapest that fits (or pinned) and the next one, an estimated price, a
 * GCP accelerator priced with its VM, and what spot did.
 */
function offeringReasons(r: Resolved, c: OfferingCost, need: Requirement): string[] {
  const t = r.target;
  const o = c.offering;
  const reasons: string[] = [];
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
  return reasons;
}

/** The chosen offering's size, replicas, capacity and prices. */
function priced(r: Resolved, c: OfferingCost): Sizing {
  const o = c.offering;
  return {
    ...(o.zone === undefined ? {} : { zone: o.zone }),
    instanceType: o.instanceType,
    vcpus: o.vcpus,
    memoryGiB: o.memoryGiB,
    ...(o.gpu ? { gpu: { ...o.gpu } } : {}),
    replicas: { min: r.replicas.min, max: r.replicas.max, onDemand: c.onDemand, spot: c.spot },
    capacity: capacityOf(r, c),
    unitPrice: { onDemand: o.onDemand, ...(o.spot === undefined ? {} : { spot: o.spot }) },
    priceSource: o.priceSource,
    hourly: r6(c.hourly),
    monthly: r2(c.hourly * HOURS_PER_MONTH),
    hourlyAtMax: r6(c.hourlyAtMax),
    monthlyAtMax: r2(c.hourlyAtMax * HOURS_PER_MONTH),
  };
}

/** On-demand, spot or mixed: what the replicas above the on-demand floor run on. */
function capacityOf(r: Resolved, c: OfferingCost): Placement['capacity'] {
  const floor = Math.min(r.target.onDemandFloor, r.replicas.max);
  const maxSpot = c.useSpot ? r.replicas.max - floor : 0;
  return !c.useSpot || maxSpot === 0 ? 'on-demand' : floor === 0 ? 'spot' : 'mixed';
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}
