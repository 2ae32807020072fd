/** The same service on each cloud alone, in its cheapest region: the plan's comparison table. */
import { isCurrent, offeringsIn, regionsOf } from '../catalog/query.js';
import { CLOUDS, type Catalog, type Offering } from '../catalog/types.js';
import type { Spec } from '../spec/schema.js';
import { EPSILON, describeNeed, fits, r2, r6, type Requirement } from './pricing.js';
import { HOURS_PER_MONTH, type CloudComparison } from './types.js';

/** The same service on each cloud alone, in its cheapest region, all on-demand. */
export function compare(spec: Spec, catalog: Catalog, need: Requirement): CloudComparison[] {
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
