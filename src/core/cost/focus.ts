/**
 * What mcml knows about the FOCUS format (FinOps Open Cost and Usage Specification,
 * versions 1.0 to 1.3): the columns it needs, the columns it keeps, their types, how each
 * version differs, and how provider names map to clouds. Pure data and functions.
 */

/**
 * Columns a file must have to be imported. Every FOCUS version makes them mandatory; the
 * provider is `ProviderName` up to 1.2 and `ServiceProviderName` from 1.3 on (1.3 keeps the
 * old name as deprecated), so either will do.
 */
export const REQUIRED_COLUMNS: readonly (string | readonly string[])[] = [
  'BilledCost',
  'EffectiveCost',
  'BillingCurrency',
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'BillingPeriodStart',
  'BillingPeriodEnd',
  'ChargeCategory',
  ['ProviderName', 'ServiceProviderName'],
];

/** Columns holding amounts or quantities (read as DOUBLE). */
export const NUMERIC_COLUMNS = [
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'ConsumedQuantity',
  'PricingQuantity',
] as const;

/** Columns holding instants (read as TIMESTAMP WITH TIME ZONE, stored in UTC). */
export const TIMESTAMP_COLUMNS = [
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'BillingPeriodStart',
  'BillingPeriodEnd',
] as const;

/**
 * FOCUS columns kept as text, with the store's column name. Any of them may be missing from
 * a file (older versions, optional columns); the store keeps NULL then.
 */
export const TEXT_COLUMNS: Record<string, string> = {
  ProviderName: 'provider_name',
  ServiceProviderName: 'service_provider_name',
  HostProviderName: 'host_provider_name',
  PublisherName: 'publisher_name',
  InvoiceIssuerName: 'invoice_issuer_name',
  BillingAccountId: 'billing_account_id',
  BillingAccountName: 'billing_account_name',
  SubAccountId: 'sub_account_id',
  SubAccountName: 'sub_account_name',
  ChargeCategory: 'charge_category',
  ChargeClass: 'charge_class',
  ChargeFrequency: 'charge_frequency',
  ChargeDescription: 'charge_description',
  BillingCurrency: 'currency',
  ServiceName: 'service_name',
  ServiceCategory: 'service_category',
  RegionId: 'region_id',
  ResourceId: 'resource_id',
  ResourceName: 'resource_name',
  ResourceType: 'resource_type',
  SkuId: 'sku_id',
  ConsumedUnit: 'consumed_unit',
  PricingUnit: 'pricing_unit',
  CommitmentDiscountId: 'commitment_discount_id',
  CommitmentDiscountStatus: 'commitment_discount_status',
  CapacityReservationId: 'capacity_reservation_id',
  InvoiceId: 'invoice_id',
  AllocatedMethodId: 'allocated_method_id',
  AllocatedResourceId: 'allocated_resource_id',
};

/** JSON columns kept as JSON text: tags, and 1.3's allocation and contract details. */
export const JSON_COLUMNS: Record<string, string> = {
  Tags: 'tags',
  AllocatedTags: 'allocated_tags',
  AllocatedMethodDetails: 'allocated_method_details',
  ContractApplied: 'contract_applied',
};

/** The tag keys mcml renders on every resource (Terraform tags/labels, Kubernetes labels). */
export const MCML_TAG_KEYS = {
  service: 'mcml-service',
  target: 'mcml-target',
  cloud: 'mcml-cloud',
} as const;

/**
 * How a tag key may be spelled in an export: as rendered, or with the `user:` prefix AWS
 * puts on user-defined cost allocation tags.
 */
export function tagKeySpellings(key: string): string[] {
  return [key, `user:${key}`];
}

/** The FOCUS version a set of columns looks like (the newest version whose columns it has). */
export function focusVersionOf(columns: readonly string[]): '1.0' | '1.1' | '1.2' | '1.3' {
  const has = new Set(columns);
  if (has.has('ServiceProviderName') || has.has('HostProviderName') || has.has('ContractApplied'))
    return '1.3';
  if (has.has('InvoiceId') || has.has('PricingCurrency') || has.has('BillingAccountType'))
    return '1.2';
  if (has.has('ServiceSubcategory') || has.has('SkuMeter') || has.has('CapacityReservationId'))
    return '1.1';
  return '1.0';
}

/** Required columns a file lacks, as names a person can look up ("ProviderName or …"). */
export function missingRequiredColumns(columns: readonly string[]): string[] {
  const has = new Set(columns);
  const missing: string[] = [];
  for (const need of REQUIRED_COLUMNS) {
    if (typeof need === 'string') {
      if (!has.has(need)) missing.push(need);
    } else if (!need.some((c) => has.has(c))) {
      missing.push(need.join(' or '));
    }
  }
  return missing;
}

/** Columns a provider adds beside FOCUS's own: FOCUS reserves the `x_` prefix for them. */
export function isExtensionColumn(name: string): boolean {
  return name.startsWith('x_');
}

/**
 * The cloud a provider name stands for: AWS / Amazon Web Services → aws, Google Cloud →
 * gcp, Microsoft / Azure → azure; anything else lower-cased as it is.
 */
export function cloudOfProvider(name: string): string {
  const n = name.trim().toLowerCase();
  if (n === 'aws' || n.includes('amazon')) return 'aws';
  if (n.includes('google') || n === 'gcp') return 'gcp';
  if (n.includes('microsoft') || n.includes('azure')) return 'azure';
  return n;
}
