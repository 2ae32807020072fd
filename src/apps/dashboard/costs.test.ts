import { describe, expect, it } from 'vitest';
import type { Plan } from '../../core/plan/types.js';
import { CostFeed } from './costs.js';

const plan = {
  placements: [
    { target: 'aws-use1', cloud: 'aws', hourly: 6, hourlyAtMax: 30, replicas: { min: 2, max: 10 } },
    { target: 'gcp-usc1', cloud: 'gcp', hourly: 3, hourlyAtMax: 15, replicas: { min: 1, max: 5 } },
    { target: 'lab', cloud: 'local', hourly: 0, hourlyAtMax: 0, replicas: { min: 1, max: 1 } },
  ],
} as unknown as Plan;

describe('the Costs view feed', () => {
  it('integrates replica-hours × catalog price from the replicas running, labelled by cloud', () => {
    const start = Date.parse('2026-12-02T10:00:00Z');
    const feed = new CostFeed({ plan, startedAt: start, budgetMonthly: 3100 });
    const running = (aws: number, gcp: number) => [
      { target: 'aws-use1', ready: aws },
      { target: 'gcp-usc1', ready: gcp },
      { target: 'lab', ready: 4 },
    ];
    feed.observe(start, running(2, 1));
    feed.observe(start + 30 * 60_000, running(2, 1)); // 30 min: aws 1 replica-h × $3, gcp 0.5 × $3
    feed.observe(start + 90 * 60_000, running(4, 0)); // 60 min more at the new count
    const view = feed.view(start + 90 * 60_000);
    expect(view.live.byCloud.aws).toBeCloseTo(3 + 12, 6);
    expect(view.live.byCloud.gcp).toBeCloseTo(1.5, 6);
    expect(view.live.cost).toBeCloseTo(16.5, 6);
    expect(view.live.replicaHours).toBeCloseTo(1 + 0.5 + 4, 6);
    expect(view.live.perHour).toBe(12);
    expect(view.estimatePerDay).toBe(9 * 24);
    expect(view.budgetPerDay).toBe(100);
    expect(view.days).toEqual(['2026-12-01', '2026-12-02']);
  });

  it('shows billed USD days of this month by cloud, leaving other currencies out', () => {
    const now = Date.parse('2026-12-03T08:00:00Z');
    const feed = new CostFeed({ plan, startedAt: now });
    feed.setBilled(
      [
        { day: '2026-11-30', cloud: 'aws', currency: 'USD', key: '', billed: 99, effective: 99 },
        { day: '2026-12-01', cloud: 'aws', currency: 'USD', key: '', billed: 140, effective: 120 },
        { day: '2026-12-02', cloud: 'gcp', currency: 'USD', key: '', billed: 70, effective: 70 },
        { day: '2026-12-02', cloud: 'gcp', currency: 'EUR', key: '', billed: 5, effective: 5 },
      ],
      'billed, from the store',
    );
    const view = feed.view(now);
    expect(view.billed).toEqual({ aws: [140, 0, 0], gcp: [0, 70, 0] });
    expect(view.budgetPerDay).toBeUndefined();
  });
});
