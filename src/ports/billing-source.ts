/**
 * A cloud's cost API as a port: AWS Cost Explorer, Azure Cost Management Query and the
 * BigQuery FOCUS billing export implement it (src/adapters/billing/), and one contract suite
 * (test/contracts/billing-source.ts) runs against every adapter.
 *
 * A pull returns daily charges for an inclusive range of UTC days, one row per day and group
 * (service, and the `mcml-target` tag or the account), with BilledCost and EffectiveCost in
 * the currency the cloud bills in. Rows carry the `mcml-*` tags they were grouped by, so the
 * store attributes them like imported FOCUS rows.
 *
 * Errors are McmlErrors: PERMISSION_DENIED or PROVIDER_AUTH when the API refuses (never worth
 * retrying), PROVIDER_UNAVAILABLE with `details.retryable: true` when it throttles or fails
 * for a while (the caller retries, after `details.retryAfterMs` when the API said).
 */
import type { AttributionMode, ChargeRow, DateRange } from '../core/cost/types.js';

export interface BillingPullRequest {
  range: DateRange;
  /** The spec's service name: the `mcml-service` tag rows must carry (attribution "tags"). */
  service: string;
  attribution: AttributionMode;
  signal?: AbortSignal;
}

export interface BillingSource {
  readonly cloud: 'aws' | 'gcp' | 'azure';
  /**
   * What this source reads, e.g. "aws:cost-explorer", "azure:/subscriptions/…",
   * "gcp:project.dataset.table". A pull replaces the earlier pull of the same scope and days.
   */
  readonly scope: string;
  pull(request: BillingPullRequest): Promise<ChargeRow[]>;
}
