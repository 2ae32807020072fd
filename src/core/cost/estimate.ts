/**
 * What the plan says a deployment costs, per cloud and per target, for a number of hours:
 * the baseline replicas at the planned hourly price. Local targets that emulate a cloud are
 * priced as that cloud; local targets that emulate none cost nothing and are left out.
 */
import type { Plan } from '../plan/types.js';

/** Planned USD per hour by cloud. */
export function plannedHourlyByCloud(plan: Plan): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of plan.placements) {
    if (p.cloud === 'local') continue;
    out.set(p.cloud, (out.get(p.cloud) ?? 0) + p.hourly);
  }
  return out;
}

/** Planned USD per hour by target, with the target's cloud. */
export function plannedHourlyByTarget(plan: Plan): Map<string, { cloud: string; hourly: number }> {
  const out = new Map<string, { cloud: string; hourly: number }>();
  for (const p of plan.placements) {
    if (p.cloud === 'local') continue;
    out.set(p.target, { cloud: p.cloud, hourly: p.hourly });
  }
  return out;
}

/**
 * The estimate of running replicas: replica-hours × catalog price per replica-hour, as
 * `mcml up` feeds the dashboard while it runs (labelled as estimated, never as billed).
 */
export function replicaHoursCost(replicaHours: number, unitPricePerHour: number): number {
  return replicaHours * unitPricePerHour;
}
