/**
 * The price catalog: what each cloud offers in each region and what it costs.
 * Built by `parseCatalog` from the CSV files in `data/catalog/` (see docs/catalog.md).
 */
import type { GpuModel, Jurisdiction } from '../spec/schema.js';
import type { Cloud } from '../plan/types.js';

export const CLOUDS = ['aws', 'gcp', 'azure'] as const satisfies readonly Cloud[];

/** Where a price came from: the prices.md table, a public list price, or a regional estimate. */
export type PriceSource = 'prices.md' | 'list' | 'estimate';
export const PRICE_SOURCES = ['prices.md', 'list', 'estimate'] as const;

/**
 * Where an offering stands in its provider's lifecycle: `available`, `retiring` on a date (it
 * can still be created until then), or `retired` (it can no longer be created: the planner
 * never picks it). A retiring row whose date has passed (`ParseCatalogOptions.today`) is
 * retired.
 */
export const LIFECYCLES = ['available', 'retiring', 'retired'] as const;
export type LifecycleStatus = (typeof LIFECYCLES)[number];

export interface Lifecycle {
  status: LifecycleStatus;
  /** YYYY-MM-DD: when it retires (retiring) or retired (retired). */
  date?: string;
  /** Where the status comes from: a key SOURCES.md explains, or a URL. */
  source?: string;
  /** The instance type the provider recommends instead (same cloud). */
  successor?: string;
}

export interface CatalogGpu {
  model: GpuModel;
  count: number;
  /** The cloud's own accelerator name, e.g. "nvidia-tesla-v100" on GCP. */
  cloudName: string;
}

/**
 * Something a replica can run on: an instance type (with its GPUs), or on GCP a VM with an
 * attachable accelerator (the VM row plus the accelerator row, prices summed).
 */
export interface Offering {
  cloud: Cloud;
  region: string;
  /** Empty when the price holds in every zone of the region. */
  zone?: string;
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  gpu?: CatalogGpu;
  /** USD per hour. */
  onDemand: number;
  /** USD per hour; absent when there is no spot offer (or no discount). */
  spot?: number;
  /** True for a GCP VM + attached accelerator combination. */
  attached: boolean;
  priceSource: PriceSource;
  /** Available, retiring on a date, or retired (GCP combinations: the later of the two rows). */
  lifecycle: Lifecycle;
  /** `file:line` of the catalog row(s) this came from. */
  origin: string;
}

/** A GCP accelerator row: attachable to N1 VMs, priced on top of the VM. */
export interface AcceleratorOffer {
  cloud: Cloud;
  region: string;
  zone?: string;
  gpu: CatalogGpu;
  onDemand: number;
  spot?: number;
  priceSource: PriceSource;
  lifecycle: Lifecycle;
  origin: string;
}

export interface RegionInfo {
  cloud: Cloud;
  region: string;
  jurisdiction: Jurisdiction;
  /** north-america, south-america, europe, asia, oceania, africa, middle-east */
  continent: string;
  displayName: string;
}

/** Egress kinds: to the internet (and other clouds), between regions, between continents. */
export type EgressKind = 'internet' | 'inter-region' | 'inter-continent';
export const EGRESS_KINDS = ['internet', 'inter-region', 'inter-continent'] as const;

/** One price tier of one egress kind: USD per GB for volume in [fromGb, toGb). */
export interface EgressRate {
  cloud: Cloud;
  kind: EgressKind;
  fromGb: number;
  /** Absent: no upper bound. */
  toGb?: number;
  usdPerGb: number;
}

export interface Catalog {
  /** Every offering, in file order (GCP combinations after the file's rows). */
  offerings: readonly Offering[];
  accelerators: readonly AcceleratorOffer[];
  regions: readonly RegionInfo[];
  egress: readonly EgressRate[];
  /** Offerings by `cloud/region`. */
  byRegion: ReadonlyMap<string, readonly Offering[]>;
}
