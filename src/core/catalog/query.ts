/** Look-ups over a parsed catalog. */
import type { Cloud } from '../plan/types.js';
import type { Catalog, Lifecycle, Offering, RegionInfo } from './types.js';

/** Whether an offering can still be created (not retired). */
export function isCurrent(o: Pick<Offering, 'lifecycle'>): boolean {
  return o.lifecycle.status !== 'retired';
}

/** "retired on 2025-09-30 (source)", "retiring on 2027-01-31 (source)" or "available". */
export function describeLifecycle(l: Lifecycle): string {
  if (l.status === 'available') return 'available';
  return `${l.status} on ${l.date ?? '?'}${l.source === undefined ? '' : ` (${l.source})`}`;
}

/** The offerings of one cloud region (empty when the region is unknown). */
export function offeringsIn(catalog: Catalog, cloud: Cloud, region: string): readonly Offering[] {
  return catalog.byRegion.get(`${cloud}/${region}`) ?? [];
}

/** The region's row, or undefined. */
export function regionInfo(catalog: Catalog, cloud: Cloud, region: string): RegionInfo | undefined {
  return catalog.regions.find((r) => r.cloud === cloud && r.region === region);
}

/** Region ids of a cloud, in catalog order. */
export function regionsOf(catalog: Catalog, cloud: Cloud): string[] {
  return catalog.regions.filter((r) => r.cloud === cloud).map((r) => r.region);
}

/** Distinct instance types offered by a cloud in a region (all regions when omitted). */
export function instanceTypesOf(catalog: Catalog, cloud: Cloud, region?: string): string[] {
  const out = new Set<string>();
  for (const o of region === undefined ? catalog.offerings : offeringsIn(catalog, cloud, region)) {
    if (o.cloud === cloud) out.add(o.instanceType);
  }
  return [...out];
}
