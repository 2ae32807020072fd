/**
 * Checks a spec against the catalog: regions and pinned instance types must exist, and
 * best-of-breed roles must name a cloud the spec uses. Used by `mcml validate` and `plan`.
 */
import type { Catalog } from '../catalog/types.js';
import { instanceTypesOf, regionInfo, regionsOf } from '../catalog/query.js';
import { CLOUDS } from '../catalog/types.js';
import type { Spec, Target } from '../spec/schema.js';
import { didYouMean } from '../suggest.js';
import type { Cloud, PlacementCloud } from './types.js';

/** A problem in the spec, at a field path (positions are added by the caller). */
export interface SpecProblem {
  path: (string | number)[];
  message: string;
  hint?: string;
}

/** The cloud whose prices apply to a target: its provider, the emulated cloud, or `local`. */
export function pricedCloud(target: Pick<Target, 'provider' | 'emulates'>): PlacementCloud {
  if (target.provider === 'local') return target.emulates ?? 'local';
  return target.provider;
}

/** Every spec problem the catalog reveals; empty when the spec fits the catalog. */
export function catalogProblems(spec: Spec, catalog: Catalog): SpecProblem[] {
  const out: SpecProblem[] = [];
  const used = new Set<PlacementCloud>();
  spec.targets.forEach((t, i) => {
    const cloud = pricedCloud(t);
    used.add(cloud);
    if (cloud === 'local') return;
    const problem = regionProblem(catalog, cloud, t, i) ?? pinnedTypeProblem(catalog, cloud, t, i);
    if (problem) out.push(problem);
  });
  out.push(...preferProblems(spec, used));
  return out;
}

/** The target's region is not in the catalog for its cloud. */
function regionProblem(
  catalog: Catalog,
  cloud: Cloud,
  t: Target,
  i: number,
): SpecProblem | undefined {
  if (regionInfo(catalog, cloud, t.region)) return undefined;
  const known = regionsOf(catalog, cloud);
  const elsewhere = CLOUDS.filter((c) => c !== cloud && regionInfo(catalog, c, t.region));
  const suggestion = didYouMean(t.region, known);
  const what = t.provider === 'local' ? `${cloud} region (emulated)` : `${cloud} region`;
  return {
    path: ['targets', i, 'region'],
    message:
      `unknown ${what} "${t.region}"` +
      (elsewhere.length > 0 ? `: it is a ${elsewhere.join('/')} region` : ''),
    hint: suggestion || `${cloud} regions in the catalog: ${known.join(', ')}`,
  };
}

/** The target pins an instance type its region does not offer (or no region does). */
function pinnedTypeProblem(
  catalog: Catalog,
  cloud: Cloud,
  t: Target,
  i: number,
): SpecProblem | undefined {
  const pinned = t.overrides?.instanceType;
  if (pinned === undefined) return undefined;
  const here = instanceTypesOf(catalog, cloud, t.region);
  if (here.includes(pinned)) return undefined;
  const withIt = regionsOf(catalog, cloud).filter((r) =>
    instanceTypesOf(catalog, cloud, r).includes(pinned),
  );
  if (withIt.length > 0) {
    return {
      path: ['targets', i, 'overrides', 'instanceType'],
      message: `${cloud} does not offer ${pinned} in ${t.region}`,
      hint: `regions with ${pinned}: ${withIt.join(', ')}`,
    };
  }
  const suggestion = didYouMean(pinned, instanceTypesOf(catalog, cloud));
  return {
    path: ['targets', i, 'overrides', 'instanceType'],
    message: `unknown ${cloud} instance type "${pinned}"`,
    hint:
      suggestion ||
      `${cloud} instance types in ${t.region}: ${here.slice(0, 12).join(', ')}${here.length > 12 ? ', …' : ''}`,
  };
}

/** Best-of-breed roles that prefer a cloud no target runs on. */
function preferProblems(spec: Spec, used: ReadonlySet<PlacementCloud>): SpecProblem[] {
  const out: SpecProblem[] = [];
  if (spec.strategy.type !== 'best-of-breed' || !spec.strategy.prefer) return out;
  for (const role of ['serving', 'spot', 'data'] as const) {
    const want = spec.strategy.prefer[role];
    if (want === undefined || used.has(want)) continue;
    const clouds = [...used].filter((c): c is Cloud => c !== 'local');
    out.push({
      path: ['strategy', 'prefer', role],
      message: `prefer.${role} is ${want}, but no target runs on ${want}`,
      hint: `targets run on: ${clouds.join(', ') || 'local only'}`,
    });
  }
  return out;
}
