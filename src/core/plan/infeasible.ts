/**
 * Why a target has no offering that fits, and what to pick instead: the closest current
 * offerings in its region (the provider's successor first), other regions, other clouds.
 */
import type { Issue } from '../errors.js';
import { describeLifecycle, isCurrent, offeringsIn, regionsOf } from '../catalog/query.js';
import { CLOUDS, type Catalog, type Offering } from '../catalog/types.js';
import type { Target } from '../spec/schema.js';
import { closestCurrent } from './alternatives.js';
import { describeNeed, describeOffering, fits, money, type Requirement } from './pricing.js';
import type { PathKey, Problems } from './problems.js';
import type { Cloud } from './types.js';

/** The issue for a target where nothing current fits (retired, pinned, GPU model, size). */
export function infeasibleIssue(
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
