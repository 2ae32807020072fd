/**
 * Sample FOCUS exports shaped like each provider's documented export, with every awkward
 * case the importer must handle: AWS Data Exports "FOCUS 1.0 with AWS columns" (user tags
 * prefixed `user:`, x_ columns), Google Cloud's FOCUS export (tags as a list of key/value
 * records, a second billing account in EUR), Microsoft's FocusCost 1.0 (many x_ columns,
 * JSON in x_SkuDetails), and a FOCUS 1.3 file (ServiceProviderName/HostProviderName beside
 * ProviderName, allocation and contract columns). Credits and refunds are negative, purchases
 * and taxes have their own ChargeCategory, optional columns are left empty.
 * Deterministic (seeded), so tests and the benchmark see the same data.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export type SampleProvider = 'aws' | 'gcp' | 'azure';

export interface SampleOptions {
  provider: SampleProvider;
  /** Total rows, the awkward ones included. */
  rows: number;
  /** Billing month, YYYY-MM. */
  month: string;
  /** The mcml-service tag value of the deployment's rows. */
  service: string;
  seed?: number;
  /** Write FOCUS 1.3 columns (ServiceProviderName, HostProviderName, allocation, contract). */
  focus13?: boolean;
}

const FOCUS_10 = [
  'AvailabilityZone',
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'CommitmentDiscountCategory',
  'CommitmentDiscountId',
  'CommitmentDiscountName',
  'CommitmentDiscountStatus',
  'CommitmentDiscountType',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'ContractedUnitPrice',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'ListUnitPrice',
  'PricingCategory',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'RegionId',
  'RegionName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'ServiceCategory',
  'ServiceName',
  'SkuId',
  'SkuPriceId',
  'SubAccountId',
  'SubAccountName',
  'Tags',
];
const FOCUS_13_EXTRA = [
  'ServiceProviderName',
  'HostProviderName',
  'InvoiceId',
  'AllocatedMethodId',
  'AllocatedResourceId',
  'AllocatedTags',
  'ContractApplied',
];
const EXTENSIONS: Record<SampleProvider, string[]> = {
  // AWS Data Exports, FOCUS 1.0 with AWS columns.
  aws: ['x_CostCategories', 'x_Discounts', 'x_Operation', 'x_ServiceCode', 'x_UsageType'],
  // Google Cloud FOCUS export.
  gcp: [
    'x_Credits',
    'x_CostType',
    'x_CurrencyConversionRate',
    'x_ExportTime',
    'x_Location',
    'x_ServiceId',
  ],
  // Microsoft Cost Management FocusCost 1.0.
  azure: [
    'x_AccountId',
    'x_AccountName',
    'x_BilledCostInUsd',
    'x_BillingExchangeRate',
    'x_BillingProfileId',
    'x_EffectiveCostInUsd',
    'x_InvoiceSectionId',
    'x_PricingCurrency',
    'x_ResourceGroupName',
    'x_SkuDetails',
    'x_SkuMeterCategory',
    'x_SkuMeterName',
  ],
};

/** The columns of a sample file, in order. */
export function sampleColumns(o: Pick<SampleOptions, 'provider' | 'focus13'>): string[] {
  return [...FOCUS_10, ...(o.focus13 ? FOCUS_13_EXTRA : []), ...EXTENSIONS[o.provider]];
}

const PROVIDER = {
  aws: {
    name: 'AWS',
    account: '012345678901',
    sub: ['111122223333', '444455556666'],
    region: 'us-east-1',
    target: 'aws-use1',
    services: [
      'Amazon Elastic Compute Cloud',
      'Amazon Simple Storage Service',
      'Amazon Elastic Kubernetes Service',
    ],
  },
  gcp: {
    name: 'Google Cloud',
    account: '010101-F0FFF0-61C528',
    sub: ['mcml-prod', 'other-team'],
    region: 'us-central1',
    target: 'gcp-usc1',
    services: ['Compute Engine', 'Cloud Storage', 'Kubernetes Engine'],
  },
  azure: {
    name: 'Microsoft',
    account: '/providers/Microsoft.Billing/billingAccounts/8611537',
    sub: [
      '/subscriptions/6b0a1c3e-1f3d-4b7e-9c2a-2f4b8d7e6a10',
      '/subscriptions/00000000-0000-0000-0000-000000000001',
    ],
    region: 'eastus',
    target: 'azure-eus',
    services: ['Virtual Machines', 'Storage', 'Azure Kubernetes Service'],
  },
} as const;

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function isoTs(ms: number, provider: SampleProvider): string {
  const iso = new Date(ms).toISOString();
  // AWS writes milliseconds, Microsoft and Google whole seconds.
  return provider === 'aws' ? iso : iso.replace('.000Z', 'Z');
}

function tagsOf(provider: SampleProvider, tags: Record<string, string>): string {
  const entries = Object.entries(tags);
  if (entries.length === 0) return provider === 'azure' ? '{}' : '';
  if (provider === 'gcp') return JSON.stringify(entries.map(([key, value]) => ({ key, value })));
  if (provider === 'aws')
    return JSON.stringify(
      Object.fromEntries(entries.map(([k, v]) => [k.startsWith('aws:') ? k : `user:${k}`, v])),
    );
  return JSON.stringify(tags);
}

interface RowSpec {
  day: number;
  hour?: number;
  category: 'Usage' | 'Purchase' | 'Tax' | 'Credit' | 'Adjustment';
  chargeClass?: 'Correction';
  billed: number;
  effective: number;
  currency: string;
  account: string;
  sub: string;
  service: string;
  tags: Record<string, string>;
  empty?: boolean;
}

/** The rows every sample starts with: one of each awkward case. */
function awkwardRows(o: SampleOptions): RowSpec[] {
  const p = PROVIDER[o.provider];
  const ours = { 'mcml-service': o.service, 'mcml-target': p.target, 'mcml-cloud': o.provider };
  const base = {
    currency: 'USD',
    account: p.account,
    sub: p.sub[0],
    service: p.services[0],
  } as const;
  const rows: RowSpec[] = [
    { ...base, day: 1, category: 'Purchase', billed: 120, effective: 0, tags: {} },
    { ...base, day: 2, category: 'Credit', billed: -15.5, effective: -15.5, tags: ours },
    {
      ...base,
      day: 3,
      category: 'Usage',
      chargeClass: 'Correction',
      billed: -2.25,
      effective: -2.25,
      tags: ours,
    },
    { ...base, day: 4, category: 'Tax', billed: 7.77, effective: 7.77, tags: {} },
    {
      ...base,
      day: 5,
      category: 'Usage',
      billed: 3.5,
      effective: 3.1,
      tags: { ...ours, note: 'a, "quoted" value' },
      empty: true,
    },
    {
      ...base,
      day: 6,
      category: 'Usage',
      billed: 1.25,
      effective: 1.25,
      sub: p.sub[1],
      tags: { team: 'other' },
    },
  ];
  if (o.provider === 'gcp') {
    // A second billing account billed in euros: kept apart, never summed with dollars.
    rows.push({
      ...base,
      day: 7,
      category: 'Usage',
      billed: 42,
      effective: 40,
      currency: 'EUR',
      account: '020202-E0EEE0-11A111',
      tags: ours,
    });
  }
  return rows;
}

/** Row values by column, for one RowSpec. */
function rowValues(o: SampleOptions, r: RowSpec, i: number): Record<string, string> {
  const p = PROVIDER[o.provider];
  const [y, m] = o.month.split('-').map(Number) as [number, number];
  const start = Date.UTC(y, m - 1, r.day, r.hour ?? 0);
  const end = r.hour === undefined ? start + 86_400_000 : start + 3_600_000;
  const periodStart = Date.UTC(y, m - 1, 1);
  const periodEnd = Date.UTC(y, m, 1);
  const ts = (ms: number) => isoTs(ms, o.provider);
  const resource =
    o.provider === 'aws'
      ? `arn:aws:ec2:us-east-1:${r.sub}:instance/i-${(i + 0x10000).toString(16)}`
      : o.provider === 'gcp'
        ? `//compute.googleapis.com/projects/${r.sub}/zones/us-central1-a/instances/node-${i}`
        : `${r.sub}/resourcegroups/mcml/providers/microsoft.compute/virtualmachines/node-${i}`;
  const v: Record<string, string> = {
    AvailabilityZone: r.empty ? '' : `${p.region}a`,
    BilledCost: String(r.billed),
    BillingAccountId: r.account,
    BillingAccountName: 'Acme',
    BillingCurrency: r.currency,
    BillingPeriodEnd: ts(periodEnd),
    BillingPeriodStart: ts(periodStart),
    ChargeCategory: r.category,
    ChargeClass: r.chargeClass ?? '',
    ChargeDescription: r.empty ? '' : `${r.category} of ${r.service}`,
    ChargeFrequency: r.category === 'Purchase' ? 'One-Time' : 'Usage-Based',
    ChargePeriodEnd: ts(end),
    ChargePeriodStart: ts(start),
    CommitmentDiscountCategory: '',
    CommitmentDiscountId: '',
    CommitmentDiscountName: '',
    CommitmentDiscountStatus: '',
    CommitmentDiscountType: '',
    ConsumedQuantity: r.category === 'Usage' ? '1' : '',
    ConsumedUnit: r.category === 'Usage' ? 'Hours' : '',
    ContractedCost: String(r.billed),
    ContractedUnitPrice: '',
    EffectiveCost: String(r.effective),
    InvoiceIssuerName: p.name,
    ListCost: String(r.billed),
    ListUnitPrice: '',
    PricingCategory: r.category === 'Usage' ? 'Standard' : '',
    PricingQuantity: r.category === 'Usage' ? '1' : '',
    PricingUnit: r.category === 'Usage' ? 'Hours' : '',
    ProviderName: p.name,
    PublisherName: p.name,
    RegionId: r.empty ? '' : p.region,
    RegionName: r.empty ? '' : p.region,
    ResourceId: r.empty || r.category !== 'Usage' ? '' : resource,
    ResourceName: r.empty || r.category !== 'Usage' ? '' : `node-${i}`,
    ResourceType: r.empty || r.category !== 'Usage' ? '' : 'Virtual machine',
    ServiceCategory: 'Compute',
    ServiceName: r.service,
    SkuId: r.empty ? '' : `SKU-${i % 7}`,
    SkuPriceId: '',
    SubAccountId: r.sub,
    SubAccountName: r.sub.split('/').pop() ?? r.sub,
    Tags: tagsOf(o.provider, r.tags),
    ServiceProviderName: p.name,
    HostProviderName: p.name,
    InvoiceId: `INV-${o.month}`,
    AllocatedMethodId: r.category === 'Usage' ? 'even-split' : '',
    AllocatedResourceId: r.category === 'Usage' ? `${resource}/pod-${i % 3}` : '',
    AllocatedTags: r.category === 'Usage' ? JSON.stringify({ namespace: 'mcml' }) : '',
    ContractApplied:
      r.category === 'Usage' && i % 5 === 0
        ? JSON.stringify({
            Elements: [
              {
                ContractId: 'C-1',
                ContractCommitmentId: 'CC-1',
                ContractCommitmentAppliedCost: r.billed,
              },
            ],
          })
        : '',
    x_CostCategories: '{}',
    x_Discounts: '',
    x_Operation: 'RunInstances',
    x_ServiceCode: 'AmazonEC2',
    x_UsageType: 'BoxUsage:p3.2xlarge',
    x_Credits:
      r.category === 'Credit' ? JSON.stringify([{ name: 'FreeTrial', amount: r.billed }]) : '[]',
    x_CostType: r.category === 'Tax' ? 'tax' : 'regular',
    x_CurrencyConversionRate: r.currency === 'EUR' ? '0.92' : '1',
    x_ExportTime: ts(periodEnd),
    x_Location: p.region,
    x_ServiceId: '6F81-5844-456A',
    x_AccountId: '7b9e',
    x_AccountName: 'acme',
    x_BilledCostInUsd: String(r.billed),
    x_BillingExchangeRate: '1',
    x_BillingProfileId: 'BP-1',
    x_EffectiveCostInUsd: String(r.effective),
    x_InvoiceSectionId: 'IS-1',
    x_PricingCurrency: 'USD',
    x_ResourceGroupName: 'mcml',
    x_SkuDetails: JSON.stringify({ VCPUs: 6, ServiceType: 'Standard_NC6s_v3' }),
    x_SkuMeterCategory: 'Virtual Machines',
    x_SkuMeterName: 'NC6s v3',
  };
  return v;
}

/** Every row of a sample, as CSV lines (header first). */
export function* sampleCsvLines(o: SampleOptions): Generator<string> {
  const columns = sampleColumns(o);
  yield columns.join(',');
  const rand = prng(o.seed ?? 42);
  const p = PROVIDER[o.provider];
  const awkward = awkwardRows(o);
  const [y, m] = o.month.split('-').map(Number) as [number, number];
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  for (let i = 0; i < o.rows; i++) {
    let spec = awkward[i];
    if (!spec) {
      const untagged = rand() < 0.1;
      const billed = Math.round((0.5 + rand() * 3) * 1e6) / 1e6;
      spec = {
        day: 1 + (i % days),
        hour: Math.floor(rand() * 24),
        category: 'Usage',
        billed,
        effective: Math.round(billed * 0.9 * 1e6) / 1e6,
        currency: 'USD',
        account: p.account,
        sub: untagged ? p.sub[1] : p.sub[0],
        service: p.services[i % p.services.length]!,
        tags: untagged
          ? { team: 'data' }
          : { 'mcml-service': o.service, 'mcml-target': p.target, 'mcml-cloud': o.provider },
      };
    }
    const values = rowValues(o, spec, i);
    yield columns.map((c) => csvCell(values[c] ?? '')).join(',');
  }
}

function* chunks(lines: Iterable<string>): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line + '\n';
    if (chunk.length > 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Writes a sample as CSV, gzipped when the path ends in .gz. */
export async function writeSampleCsv(path: string, o: SampleOptions): Promise<void> {
  const source = Readable.from(chunks(sampleCsvLines(o)));
  if (path.endsWith('.gz')) await pipeline(source, createGzip(), createWriteStream(path));
  else await pipeline(source, createWriteStream(path));
}

/**
 * Writes a sample as Parquet, typed as the providers type theirs: amounts as DOUBLE,
 * instants as TIMESTAMP, and for AWS the tags as a MAP (Data Exports' Parquet schema).
 */
export async function writeSampleParquet(path: string, o: SampleOptions): Promise<void> {
  const csv = `${path}.tmp.csv`;
  await writeSampleCsv(csv, o);
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    const tags =
      o.provider === 'aws'
        ? `CAST(nullif(Tags, '')::JSON AS MAP(VARCHAR, VARCHAR))`
        : `nullif(Tags, '')`;
    const types = sampleColumns(o)
      .map((col) =>
        /Cost$|Quantity$|UnitPrice$/.test(col)
          ? `'${col}': 'DOUBLE'`
          : /Period(Start|End)$/.test(col)
            ? `'${col}': 'TIMESTAMPTZ'`
            : `'${col}': 'VARCHAR'`,
      )
      .join(', ');
    await c.run(
      `COPY (SELECT * REPLACE (${tags} AS Tags,
              ChargePeriodStart::TIMESTAMP AS ChargePeriodStart, ChargePeriodEnd::TIMESTAMP AS ChargePeriodEnd,
              BillingPeriodStart::TIMESTAMP AS BillingPeriodStart, BillingPeriodEnd::TIMESTAMP AS BillingPeriodEnd)
            FROM read_csv('${csv}', header = true, types = {${types}}))
       TO '${path}' (FORMAT parquet)`,
    );
  } finally {
    c.closeSync();
    db.closeSync();
    const { rm } = await import('node:fs/promises');
    await rm(csv, { force: true });
  }
}
