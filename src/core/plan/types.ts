/**
 * The planner's output: where each target runs, on what, in which tier, at what cost.
 * Produced by `plan(spec, catalog)` (pure); consumed by `mcml plan`, render, up and cost.
 * `mcml plan --json` prints this shape (documented in docs/plan-json.md).
 * Optional fields marked "set by plan()" are always present in a plan from `plan()`; they are
 * optional only so hand-built plans in tests stay valid.
 */
import type { GpuModel, Jurisdiction, Provider, Strategy } from '../spec/schema.js';

/** A cloud with prices; `local` targets are priced as the cloud they emulate. */
export type Cloud = 'aws' | 'gcp' | 'azure';

/**
 * The cloud a placement is priced as: a cloud, or `local` for a local target that emulates
 * no cloud (it runs on this machine and costs $0).
 */
export type PlacementCloud = Cloud | 'local';

export interface PlannedGpu {
  model: GpuModel;
  count: number;
  /** The cloud's own accelerator name, e.g. "nvidia-tesla-v100" on GCP; for rendering. */
  cloudName: string;
}

/** What every placement has; see `Placement`. */
export interface PlacementBase {
  target: string;
  region: string;
  zone?: string;
  jurisdiction: Jurisdiction;
  continent: string;
  /** 1 = primary; failover goes to 2, then 3, … */
  tier: number;
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  gpu?: PlannedGpu;
  replicas: {
    min: number;
    max: number;
    /** Of the baseline (min) replicas: how many on on-demand and how many on spot. */
    onDemand: number;
    spot: number;
  };
  capacity: 'on-demand' | 'spot' | 'mixed';
  /** Hourly USD per node, on-demand and spot (spot absent when not offered). */
  unitPrice: { onDemand: number; spot?: number };
  /** Set by plan(). Where the price came from: `prices.md`, `list`, `estimate` (see data/catalog/SOURCES.md), or `local`. */
  priceSource?: 'prices.md' | 'list' | 'estimate' | 'local';
  /** USD per hour of the baseline replicas. */
  hourly: number;
  /** USD per month (730 h) of the baseline replicas. */
  monthly: number;
  /** USD per hour with every replica up to max running. */
  hourlyAtMax: number;
  /** Set by plan(). USD per month (730 h) with every replica up to max running. */
  monthlyAtMax?: number;
  bucket?: string;
  context?: string;
  endpoint?: string;
  weight: number;
  /** Data sets that land on this target. */
  dataSets: string[];
  /** Why this offering and tier. */
  reasons: string[];
}

/** A target on a cloud: `cloud` equals `provider`. */
export interface CloudPlacement extends PlacementBase {
  provider: Exclude<Provider, 'local'>;
  cloud: Cloud;
}

/**
 * A `local` target (`mcml up`): `cloud` is the cloud it emulates (priced as that cloud in its
 * region), or `local` when it emulates none (free, no cloud prices).
 */
export interface LocalPlacement extends PlacementBase {
  provider: 'local';
  cloud: PlacementCloud;
}

/**
 * Where one target runs and what it costs. Discriminated by `provider`: after checking
 * `provider !== 'local'`, `cloud` is a `Cloud`.
 */
export type Placement = CloudPlacement | LocalPlacement;

/** The egress cost of replicating one data set to one target. */
export interface DataTransfer {
  dataSet: string;
  jurisdiction: Jurisdiction;
  to: string;
  /** The cloud whose egress is billed (the sending side); undefined for local sources. */
  fromCloud?: Cloud;
  /** Set by plan(). Which egress price applies: none (local source), internet, inter-region or inter-continent. */
  kind?: 'none' | 'internet' | 'inter-region' | 'inter-continent';
  sizeGb: number;
  pricePerGb: number;
  /** One-time USD for a full copy. */
  cost: number;
}

/** The same service on one cloud alone, in its cheapest region: the "before" cost view. */
export interface CloudComparison {
  cloud: Cloud;
  region: string;
  instanceType: string;
  gpu?: PlannedGpu;
  /** Baseline replicas priced (service.replicas.min, at least 1), all on-demand. */
  replicas: number;
  hourly: number;
  monthly: number;
  /** The same replicas on spot, when that offering has a spot price. */
  hourlySpot?: number;
  /** Set when the cloud cannot run the service at all. */
  unavailable?: string;
}

export interface BudgetVerdict {
  limit: number;
  monthly: number;
  share: number;
  verdict: 'within' | 'warn' | 'over';
}

export interface Plan {
  service: string;
  strategy: Strategy['type'];
  /** Ordered by tier. */
  placements: Placement[];
  data: DataTransfer[];
  totals: {
    hourly: number;
    monthly: number;
    hourlyAtMax: number;
    monthlyAtMax?: number;
    dataTransferOneTime: number;
  };
  /** Set by plan(). Targets of the spec left out of the plan (e.g. by strategy cost's maxTargets), with why. */
  dropped?: { target: string; reason: string }[];
  budget?: BudgetVerdict;
  comparison: CloudComparison[];
  reasons: string[];
  warnings: string[];
}

export const HOURS_PER_MONTH = 730;
