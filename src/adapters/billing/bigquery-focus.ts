/**
 * Google Cloud's FOCUS billing export in BigQuery as a BillingSource: one query over the
 * export table (`project.gcp_billing_immutable_<account>_<location>.gcp_billing_export_focus_<account>`,
 * or any table or view with the FOCUS columns), daily sums of BilledCost and EffectiveCost by
 * service, account and the `mcml-target` label, with the range and service as query parameters.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { nextDay } from '../../core/cost/range.js';
import type { ChargeRow } from '../../core/cost/types.js';
import type { BillingPullRequest, BillingSource } from '../../ports/billing-source.js';
import { denied, unauthenticated, unavailable } from './errors.js';

export interface BigQueryFocusOptions {
  client: BigQuery;
  /** `project.dataset.table` of the FOCUS export (or a view over it). */
  table: string;
  /** The dataset's location (US, EU, a region), when it is not the default. */
  location?: string;
}

const TABLE = /^[a-z][a-z0-9-]{4,61}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_$-]{1,1024}$/;

/** The label value Google's FOCUS export keeps in `Tags`, a list of key/value records. */
const tag = (key: string) =>
  `(SELECT t.value FROM UNNEST(Tags) AS t WHERE t.key = '${key}' LIMIT 1)`;

interface ResultRow {
  day: { value: string } | string;
  service_name: string | null;
  sub_account_id: string | null;
  billing_account_id: string | null;
  currency: string;
  charge_category: string | null;
  target: string | null;
  billed: number | string;
  effective: number | string;
}

export class BigQueryFocusSource implements BillingSource {
  readonly cloud = 'gcp' as const;
  readonly scope: string;
  private readonly client: BigQuery;
  private readonly table: string;
  private readonly location: string | undefined;

  constructor(options: BigQueryFocusOptions) {
    if (!TABLE.test(options.table)) {
      throw new Error(`not a BigQuery table name (project.dataset.table): ${options.table}`);
    }
    this.client = options.client;
    this.table = options.table;
    this.location = options.location;
    this.scope = `gcp:${options.table}`;
  }

  /** The query: parameters for everything a user gives, the table name checked above. */
  sql(request: BillingPullRequest): string {
    const byTags = request.attribution === 'tags';
    return `SELECT DATE(ChargePeriodStart) AS day, ServiceName AS service_name,
  SubAccountId AS sub_account_id, BillingAccountId AS billing_account_id,
  BillingCurrency AS currency, ChargeCategory AS charge_category,
  ${byTags ? tag('mcml-target') : 'CAST(NULL AS STRING)'} AS target,
  SUM(BilledCost) AS billed, SUM(EffectiveCost) AS effective
FROM \`${this.table}\`
WHERE ChargePeriodStart >= TIMESTAMP(@from) AND ChargePeriodStart < TIMESTAMP(@until)${
      byTags ? `\n  AND ${tag('mcml-service')} = @service` : ''
    }
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1`;
  }

  async pull(request: BillingPullRequest): Promise<ChargeRow[]> {
    let rows: ResultRow[];
    try {
      [rows] = (await this.client.query({
        query: this.sql(request),
        params: {
          from: request.range.from,
          until: nextDay(request.range.to),
          ...(request.attribution === 'tags' ? { service: request.service } : {}),
        },
        ...(this.location ? { location: this.location } : {}),
      })) as unknown as [ResultRow[]];
    } catch (error) {
      throw this.translate(error);
    }
    return rows.map((r) => {
      const day = typeof r.day === 'string' ? r.day : r.day.value;
      const tags: Record<string, string> = {};
      if (request.attribution === 'tags') {
        tags['mcml-service'] = request.service;
        if (r.target) tags['mcml-target'] = r.target;
      }
      return {
        cloud: 'gcp',
        providerName: 'Google Cloud',
        chargePeriodStart: `${day}T00:00:00Z`,
        chargePeriodEnd: `${nextDay(day)}T00:00:00Z`,
        chargeCategory: r.charge_category ?? 'Usage',
        billedCost: Number(r.billed),
        effectiveCost: Number(r.effective),
        currency: r.currency,
        ...(r.service_name ? { serviceName: r.service_name } : {}),
        ...(r.sub_account_id ? { subAccountId: r.sub_account_id } : {}),
        ...(r.billing_account_id ? { billingAccountId: r.billing_account_id } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      };
    });
  }

  private translate(error: unknown) {
    const e = error as { code?: number; message: string; errors?: { reason?: string }[] };
    const reason = e.errors?.[0]?.reason ?? '';
    const what = `BigQuery query of ${this.table}`;
    if (e.code === 403 && !/rateLimitExceeded|quotaExceeded/.test(reason))
      return denied('gcp', what, e.message);
    if (e.code === 401) return unauthenticated('gcp', e.message);
    if (/Could not load the default credentials|invalid_grant/i.test(e.message))
      return unauthenticated('gcp', e.message);
    return unavailable('gcp', what, e.code ? `HTTP ${e.code}: ${e.message}` : e.message);
  }
}
