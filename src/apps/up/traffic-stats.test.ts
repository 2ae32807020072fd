import { describe, expect, it } from 'vitest';
import { TrafficStats, quantile } from './traffic-stats.js';

describe('TrafficStats', () => {
  it('reports req/s, errors and quantiles over complete seconds of the window', () => {
    const stats = new TrafficStats({ windowSeconds: 10 });
    const t0 = 1_000_000;
    for (let i = 1; i <= 100; i++) stats.record(t0 + (i % 10) * 1000, i, i > 95);
    stats.record(t0 + 10_500, 1000, false); // the current second: not counted yet
    const s = stats.summary(t0 + 10_600);
    expect(s.rps).toBe(10);
    expect(s.errorRatio).toBeCloseTo(0.05);
    expect(s.p50Ms).toBe(50);
    expect(s.p99Ms).toBe(99);
    expect(s.total).toBe(101);
    expect(stats.history(t0 + 3000, 3).map((h) => h.count)).toEqual([10, 10, 10]);
  });

  it('answers nothing for quantiles of no data', () => {
    expect(quantile([], 0.5)).toBeUndefined();
    expect(new TrafficStats().summary(0).p99Ms).toBeUndefined();
  });
});
