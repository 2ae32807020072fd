import { describe, expect, it } from 'vitest';
import { LatencyWindow, attemptLimitMs } from './latency.js';

describe('LatencyWindow', () => {
  it('tracks the p99 of the newest samples only', () => {
    const w = new LatencyWindow(100, 10);
    expect(w.p99).toBe(0);
    for (let i = 1; i <= 100; i++) w.add(i);
    expect(w.p99).toBe(99);
    // A hundred fast answers push the slow ones out of the window.
    for (let i = 0; i < 100; i++) w.add(2);
    expect(w.p99).toBe(2);
    expect(w.size).toBe(100);
  });

  it('ignores values that are not latencies', () => {
    const w = new LatencyWindow();
    w.add(Number.NaN);
    w.add(-1);
    w.add(Number.POSITIVE_INFINITY);
    expect(w.size).toBe(0);
  });
});

describe('attemptLimitMs', () => {
  const limits = { floorMs: 1000, ceilingMs: 30_000 };
  it('follows observed latency between the floor and the ceiling', () => {
    expect(attemptLimitMs(0, limits)).toBe(1000);
    expect(attemptLimitMs(5, limits)).toBe(1000);
    expect(attemptLimitMs(2000, limits)).toBe(8000);
    expect(attemptLimitMs(20_000, limits)).toBe(30_000);
    expect(attemptLimitMs(2000, { ...limits, multiplier: 2 })).toBe(4000);
  });

  it('never exceeds the ceiling, even when the floor does', () => {
    expect(attemptLimitMs(0, { floorMs: 5000, ceilingMs: 2000 })).toBe(2000);
  });
});
