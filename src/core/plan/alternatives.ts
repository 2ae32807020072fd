/**
 * What to offer instead when a region has nothing current that fits: the successors the
 * provider names for the retired offerings that would have fitted, then the current offerings
 * there whose GPU is closest to the one asked for, cheapest first among equals.
 */
import { isCurrent } from '../catalog/query.js';
import type { Offering } from '../catalog/types.js';
import type { GpuModel } from '../spec/schema.js';

/** A rough inference-capability order of GPU models: neighbours are the closest swaps. */
const GPU_RANK: Record<GpuModel, number> = {
  K80: 1,
  M60: 1,
  P4: 2,
  P100: 3,
  T4: 4,
  V100: 5,
  A10G: 6,
  A10: 6,
  L4: 6,
  A100: 7,
  'A100-80GB': 8,
  L40S: 8,
  H100: 9,
};

/** What one replica needs (as the planner's Requirement). */
export interface Need {
  vcpus: number;
  memoryGiB: number;
  gpu?: { model: GpuModel; count: number };
}

/** Whether an offering has the room (vCPUs, memory, GPU count) for one replica, any GPU model. */
function roomy(o: Offering, need: Need): boolean {
  if (o.vcpus + 1e-9 < need.vcpus || o.memoryGiB + 1e-9 < need.memoryGiB) return false;
  if (need.gpu === undefined) return o.gpu === undefined;
  return o.gpu !== undefined && o.gpu.count >= need.gpu.count;
}

/**
 * Up to `limit` current offerings of `pool` (one region) to suggest instead: the `successors`
 * the provider names first, then by GPU distance (an upgrade before a downgrade at equal
 * distance), then by on-demand price. One entry per instance type and GPU count.
 */
export function closestCurrent(
  pool: readonly Offering[],
  need: Need,
  successors: ReadonlySet<string>,
  limit = 3,
): Offering[] {
  const want = need.gpu === undefined ? 0 : GPU_RANK[need.gpu.model];
  const distance = (o: Offering) => {
    const r = o.gpu === undefined ? 0 : GPU_RANK[o.gpu.model];
    return Math.abs(r - want) * 2 + (r < want ? 1 : 0);
  };
  const seen = new Set<string>();
  return pool
    .filter((o) => isCurrent(o) && roomy(o, need))
    .sort(
      (a, b) =>
        Number(successors.has(b.instanceType)) - Number(successors.has(a.instanceType)) ||
        distance(a) - distance(b) ||
        a.onDemand - b.onDemand ||
        (a.instanceType < b.instanceType ? -1 : a.instanceType > b.instanceType ? 1 : 0),
    )
    .filter((o) => {
      const key = `${o.instanceType}|${o.gpu?.model ?? ''}|${o.gpu?.count ?? 0}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, limit);
}
