/**
 * The cost domain: billing rows normalised from FOCUS files and cloud cost APIs, the date
 * range of a report, how rows are attributed to this deployment, and the report itself.
 * Pure types; the store (src/engines/cost) and the CLI share them.
 */

/**
 * A cloud as billing data names it: `aws`, `gcp`, `azure`, or the lower-cased provider name
 * for anything else (a marketplace vendor, another cloud).
 */
export type BillingCloud = string;

/** Where rows came from: a FOCUS export file, or a cost API pull. */
export type ChargeOrigin = 'export' | 'api';

/**
 * One charge, normalised: the FOCUS columns mcml reads, with snake-case names. Timestamps
 * are ISO-8601 UTC strings. Costs are in `currency`; rows in different currencies are never
 * summed together.
 */
export interface ChargeRow {
  cloud: BillingCloud;
  providerName: string;
  billingAccountId?: string;
  subAccountId?: string;
  chargePeriodStart: string;
  chargePeriodEnd: string;
  billingPeriodStart?: string;
  billingPeriodEnd?: string;
  /** FOCUS ChargeCategory: Usage, Purchase, Tax, Credit, Adjustment. */
  chargeCategory: string;
  billedCost: number;
  effectiveCost: number;
  currency: string;
  serviceName?: string;
  regionId?: string;
  resourceId?: string;
  /** Tags as key → value (user tags may carry a `user:` prefix, as in AWS exports). */
  tags?: Record<string, string>;
}

/** An inclusive range of whole UTC days, as `YYYY-MM-DD`. */
export interface DateRange {
  from: string;
  to: string;
}

/** How a report groups its rows besides the per-cloud totals. */
export const COST_GROUPINGS = ['cloud', 'target', 'service', 'day'] as const;
export type CostGroupBy = (typeof COST_GROUPINGS)[number];

/**
 * Which rows belong to this deployment: the ones tagged `mcml-service=<service>` (the
 * rendered Terraform and manifests carry the tags), the ones in the accounts / projects /
 * subscriptions of the spec's targets, or every row.
 */
export const ATTRIBUTION_MODES = ['tags', 'accounts', 'all'] as const;
export type AttributionMode = (typeof ATTRIBUTION_MODES)[number];

export interface Attribution {
  mode: AttributionMode;
  /** The spec's service name: the value of the `mcml-service` tag. */
  service: string;
  /** Account id (AWS account, GCP project, Azure subscription) → target name. */
  accounts: Record<string, string>;
}

/**
 * The store's answer to a report query: one row per UTC day, cloud, currency and group key
 * (the target, the service name, or "" when the report groups by cloud or day).
 */
export interface DailyCost {
  day: string;
  cloud: BillingCloud;
  currency: string;
  key: string;
  billed: number;
  effective: number;
}
