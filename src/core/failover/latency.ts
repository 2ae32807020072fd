/**
 * Per-attempt time limits that follow observed latency. A target that stops answering (a hung
 * process, a SIGSTOP, a black-holed network) accepts connections and requests and never
 * replies; waiting the full upstream timeout for it stalls every request in flight. The front
 * door instead gives each attempt `multiplier × p99` of the target's recent answer times
 * (never less than a floor, never more than the upstream timeout), then sends the request to
 * the next tier as well — the first answer wins (Envoy's per-try timeout with hedging).
 */

/** A sliding window of recent latencies (ms) with a cheap, periodically refreshed p99. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private readonly sorted: Float64Array;
  private count = 0;
  private next = 0;
  private pending = 0;
  private p99Value = 0;

  /**
   * @param size samples kept (the newest win)
   * @param refreshEvery recompute the quantile after this many new samples (sorting is O(n log n))
   */
  constructor(
    size = 512,
    private readonly refreshEvery = 32,
  ) {
    this.samples = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  /** Records one latency in milliseconds (ignores values that are not finite and ≥ 0). */
  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
    // Refresh every sample while the window is young, so the first estimates are not stale.
    if (++this.pending >= this.refreshEvery || this.count <= this.refreshEvery) this.refresh();
  }

  /** Samples held. */
  get size(): number {
    return this.count;
  }

  /** The 99th percentile of the window, 0 when empty. */
  get p99(): number {
    return this.p99Value;
  }

  private refresh(): void {
    this.pending = 0;
    const view = this.sorted.subarray(0, this.count);
    view.set(this.samples.subarray(0, this.count));
    view.sort();
    this.p99Value = view[Math.min(this.count - 1, Math.ceil(0.99 * this.count) - 1)] ?? 0;
  }
}

export interface AttemptLimitOptions {
  /** Never less than this (the health check timeout: what "not answering" means here). */
  floorMs: number;
  /** Never more than this (the upstream timeout). */
  ceilingMs: number;
  /** Multiple of the p99 an attempt gets. Default 4. */
  multiplier?: number;
}

/** How long one attempt may go without an answer before the next tier is tried too. */
export function attemptLimitMs(p99: number, options: AttemptLimitOptions): number {
  const wanted = (options.multiplier ?? 4) * p99;
  const floor = Math.min(options.floorMs, options.ceilingMs);
  return Math.min(options.ceilingMs, Math.max(floor, wanted));
}
