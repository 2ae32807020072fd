/**
 * The planner's output: where each target runs, on what, in which tier, at what cost.
 * Produced by `plan(spec, catalog)` (pure); consumed by `mcml plan`, render, up and cost.
 * `mcml plan --json` prints this shape (documented in docs/plan-json.md).
 */
import type { GpuModel, Jurisdiction, Provider, Strategy } from '../spec/schema.js';

/** A cloud with prices; `local` targets are priced as the cloud they emulate. */
export type Cloud = 'aws' | 'gcp' | 'azure';

export interface PlannedGpu {
  model: GpuModel;
  count: number;
  /** The cloud's own accelerator name, e.g. "nvidia-tesla-v100" on GCP; for rendering. */
  cloudName: string;
}

/** Where one target runs and what it costs. */
export interface Placement {
  target: string;
  provider: Provider;
  /** The cloud whose prices apply (the emulated one for local targets). */
  cloud: Cloud;
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
  /** USD per hour of the baseline replicas. */
  hourly: number;
  /** USD per month (730 h) of the baseline replicas. */
  monthly: number;
  /** USD per hour with every replica up to max running. */
  hourlyAtMax: number;
  bucket?: string;
  context?: string;
  endpoint?: string;
  weight: number;
  /** Data sets that land on this target. */
  dataSets: string[];
  /** Why this offering and tier. */
  reasons: string[];
}

/** The egress cost of replicating one data set to one target. */
export interface DataTransfer {
  dataSet: string;
  jurisdiction: Jurisdiction;
  to: string;
  /** The cloud whose egress is billed (the sending side); undefined for local sources. */
  fromCloud?: Cloud;
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
  hourly: number;
  monthly: number;
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
  totals: { hourly: number; monthly: number; hourlyAtMax: number; dataTransferOneTime: number };
  budget?: BudgetVerdict;
  comparison: CloudComparison[];
  reasons: string[];
  warnings: string[];
}

export const HOURS_PER_MONTH = 730;
