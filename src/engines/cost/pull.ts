/**
 * `mcml cost pull`: each cloud's cost API for a range of days, into the cost store. Clouds
 * are pulled side by side; one that refuses (no permission) or keeps throttling is reported
 * on its own while the others land. Throttling and passing failures are retried with
 * backoff on the given clock.
 */
import { McmlError, isMcmlError } from '../../core/errors.js';
import type { AttributionMode, ChargeRow, DateRange } from '../../core/cost/types.js';
import type { BillingSource } from '../../ports/billing-source.js';
import type { Clock } from '../../ports/clock.js';
import type { CostStore } from './store.js';

export interface PullOptions {
  store: CostStore;
  sources: BillingSource[];
  range: DateRange;
  service: string;
  attribution: AttributionMode;
  clock: Clock;
  /** Attempts per source (default 4: the first and three retries). */
  attempts?: number;
  /** First backoff in ms, doubled per retry (default 1000). */
  backoffMs?: number;
  onRetry?: (cloud: string, attempt: number, waitMs: number, error: McmlError) => void;
}

export interface PullOutcome {
  cloud: string;
  scope: string;
  attempts: number;
  rows?: number;
  /** BilledCost per currency of what was pulled. */
  billed?: Record<string, number>;
  error?: McmlError;
}

function asMcmlError(cloud: string, error: unknown): McmlError {
  if (isMcmlError(error)) return error;
  return new McmlError('PROVIDER_UNAVAILABLE', `${cloud}: ${(error as Error).message}`, {
    cause: error,
  });
}

/** Pulls one source with retries; never throws. */
async function pullOne(
  source: BillingSource,
  options: PullOptions,
): Promise<{ outcome: PullOutcome; rows?: ChargeRow[] }> {
  const attempts = options.attempts ?? 4;
  const base = options.backoffMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      const rows = await source.pull({
        range: options.range,
        service: options.service,
        attribution: options.attribution,
      });
      const billed: Record<string, number> = {};
      for (const r of rows) billed[r.currency] = (billed[r.currency] ?? 0) + r.billedCost;
      const outcome = { cloud: source.cloud, scope: source.scope, attempts: attempt };
      return { outcome: { ...outcome, rows: rows.length, billed }, rows };
    } catch (raw) {
      const error = asMcmlError(source.cloud, raw);
      const retryable = error.details.retryable === true;
      if (!retryable || attempt >= attempts) {
        return { outcome: { cloud: source.cloud, scope: source.scope, attempts: attempt, error } };
      }
      const hinted = Number(error.details.retryAfterMs);
      const wait = Number.isFinite(hinted) && hinted > 0 ? hinted : base * 2 ** (attempt - 1);
      options.onRetry?.(source.cloud, attempt, wait, error);
      await options.clock.sleep(wait);
    }
  }
}

/**
 * Pulls every source side by side and stores what each returned (replacing its earlier
 * pull of the same days). Returns one outcome per source, failures included.
 */
export async function pullBilling(options: PullOptions): Promise<PullOutcome[]> {
  const results = await Promise.all(options.sources.map((s) => pullOne(s, options)));
  const at = new Date(options.clock.now());
  // One connection: store the pulls one after another.
  for (const { outcome, rows } of results) {
    if (rows) await options.store.replaceApiRows(outcome.scope, options.range, rows, at);
    await options.store.recordPull(
      {
        cloud: outcome.cloud,
        scope: outcome.scope,
        range: options.range,
        ...(outcome.error ? { error: outcome.error.message } : {}),
      },
      at,
    );
  }
  return results.map((r) => r.outcome);
}
