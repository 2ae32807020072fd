/**
 * Rolling request statistics per target: req/s, error ratio and latency quantiles over the
 * last seconds, plus a per-second history for the dashboard's traffic chart.
 */

interface Bucket {
  second: number;
  count: number;
  errors: number;
  latencies: number[];
}

export interface TrafficSummary {
  /** Requests per second over the window. */
  rps: number;
  /** Share of 5xx / failed requests over the window (0..1). */
  errorRatio: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  total: number;
  errorsTotal: number;
}

/** Keeps per-second buckets for `historySeconds`; summaries look at the last `windowSeconds`. */
export class TrafficStats {
  readonly #buckets: Bucket[] = [];
  readonly #historySeconds: number;
  readonly #windowSeconds: number;
  #total = 0;
  #errorsTotal = 0;

  constructor(options: { historySeconds?: number; windowSeconds?: number } = {}) {
    this.#historySeconds = options.historySeconds ?? 300;
    this.#windowSeconds = options.windowSeconds ?? 10;
  }

  /** Records one finished request at `nowMs`. */
  record(nowMs: number, latencyMs: number, failed: boolean): void {
    const second = Math.floor(nowMs / 1000);
    // Requests finish nearly in order: look back a few buckets for this second.
    let bucket: Bucket | undefined;
    for (let i = this.#buckets.length - 1; i >= 0 && i >= this.#buckets.length - 16; i--) {
      if (this.#buckets[i]!.second === second) bucket = this.#buckets[i];
    }
    if (!bucket) {
      bucket = { second, count: 0, errors: 0, latencies: [] };
      const at = this.#buckets.findLastIndex((b) => b.second < second) + 1;
      this.#buckets.splice(at, 0, bucket);
      const newest = this.#buckets.at(-1)!.second;
      while (this.#buckets.length > 0 && this.#buckets[0]!.second <= newest - this.#historySeconds)
        this.#buckets.shift();
    }
    bucket.count += 1;
    if (failed) {
      bucket.errors += 1;
      this.#errorsTotal += 1;
    }
    this.#total += 1;
    // Bound memory under heavy load: keep a sample of at most 2,000 latencies per second.
    if (bucket.latencies.length < 2000) bucket.latencies.push(latencyMs);
  }

  /** Rates and quantiles over the last windowSeconds complete seconds before `nowMs`. */
  summary(nowMs: number): TrafficSummary {
    const now = Math.floor(nowMs / 1000);
    const from = now - this.#windowSeconds;
    const recent = this.#buckets.filter((b) => b.second >= from && b.second < now);
    const count = recent.reduce((a, b) => a + b.count, 0);
    const errors = recent.reduce((a, b) => a + b.errors, 0);
    const latencies = recent.flatMap((b) => b.latencies).sort((a, b) => a - b);
    return {
      rps: count / this.#windowSeconds,
      errorRatio: count === 0 ? 0 : errors / count,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      total: this.#total,
      errorsTotal: this.#errorsTotal,
    };
  }

  /** Requests per second for each of the last `seconds` complete seconds (oldest first). */
  history(nowMs: number, seconds: number): { t: number; count: number }[] {
    const now = Math.floor(nowMs / 1000);
    const byId = new Map(this.#buckets.map((b) => [b.second, b.count]));
    const out: { t: number; count: number }[] = [];
    for (let s = now - seconds; s < now; s++) out.push({ t: s, count: byId.get(s) ?? 0 });
    return out;
  }
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}
