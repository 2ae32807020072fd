/** The front door's proxy metrics, children looked up once per label set (the hot path). */
import { memo } from '../../core/memo.js';
import type { FailoverMetrics } from './metrics.js';

/** The proxy's metric children, looked up once per label set (the hot path). */
export class LabelCache {
  private readonly requests = new Map<string, { inc(): void }>();
  private readonly latency = new Map<string, { observe(v: number): void }>();
  private readonly retries = new Map<string, { inc(): void }>();

  constructor(
    private readonly metrics: FailoverMetrics | undefined,
    private readonly clouds: ReadonlyMap<string, string>,
  ) {}

  request(target: string, code: number, seconds?: number): void {
    const m = this.metrics;
    if (!m) return;
    const cloud = this.clouds.get(target) ?? 'none';
    memo(this.requests, `${target} ${code}`, () =>
      m.proxyRequests.labels({ target, cloud, code: String(code) }),
    ).inc();
    if (seconds === undefined) return;
    memo(this.latency, target, () => m.proxyLatency.labels({ target, cloud })).observe(seconds);
  }

  retry(target: string, reason: string | number): void {
    const m = this.metrics;
    if (!m) return;
    const cloud = this.clouds.get(target) ?? 'none';
    memo(this.retries, `${target} ${reason}`, () =>
      m.proxyRetries.labels({ target, cloud, reason: String(reason) }),
    ).inc();
  }
}
