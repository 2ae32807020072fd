/**
 * What one replica needs and what it costs on an offering: the planner's arithmetic, shared by
 * every phase (candidates, strategies, placements, data transfers, the per-cloud comparison).
 */
import type { Catalog, EgressKind, Offering } from '../catalog/types.js';
import { formatDecimal } from '../decimal.js';
import { memoryGiB } from '../spec/parse.js';
import type { GpuModel, Jurisdiction, Spec } from '../spec/schema.js';
import type { Cloud } from './types.js';

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

export const EPSILON = 1e-9;

/** Rounds USD to 6 decimals (hourly figures) to keep float noise out of the JSON. */
export function r6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
/** Rounds USD to cents (monthly and one-time figures). */
export function r2(x: number): number {
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

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function describeNeed(need: Requirement): string {
  const parts = [];
  if (need.gpu) parts.push(`${need.gpu.count}×${need.gpu.model}`);
  parts.push(`${need.vcpus} vCPU`, `${fmtGiB(need.memoryGiB)} GiB`);
  return parts.join(', ');
}

function fmtGiB(x: number): string {
  return String(Math.round(x * 100) / 100);
}

export function describeOffering(o: Offering): string {
  const gpu = o.gpu ? `${o.gpu.count}×${o.gpu.model}, ` : '';
  const name =
    o.attached && o.gpu ? `${o.instanceType} + ${o.gpu.count}×${o.gpu.cloudName}` : o.instanceType;
  return `${name} (${gpu}${o.vcpus} vCPU, ${fmtGiB(o.memoryGiB)} GiB)`;
}

export function money(x: number): string {
  const digits = x !== 0 && Math.abs(x) < 1 ? 4 : 2;
  return `$${formatDecimal(x, digits)}`;
}

/** Continent of a jurisdiction, to price egress of data that starts there. */
export const JURISDICTION_CONTINENT: Record<Jurisdiction, string | undefined> = {
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
