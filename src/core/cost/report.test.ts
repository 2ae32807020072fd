import { describe, expect, it } from 'vitest';
import type { Plan } from '../plan/types.js';
import { findAnomalies } from './anomalies.js';
import { buildCostReport } from './report.js';
import type { DailyCost } from './types.js';

function plan(): Plan {
  const p = (target: string, cloud: 'aws' | 'gcp' | 'azure', hourly: number) =>
    ({ target, cloud, provider: cloud, hourly }) as unknown as Plan['placements'][number];
  return {
    placements: [p('aws-use1', 'aws', 2), p('gcp-usc1', 'gcp', 1.5), p('azure-eus', 'azure', 3)],
  } as unknown as Plan;
}

function days(
  cloud: string,
  from: number,
  to: number,
  billed: (d: number) => number,
  key = '',
): DailyCost[] {
  const out: DailyCost[] = [];
  for (let d = from; d <= to; d++) {
    const day = `2026-11-${String(d).padStart(2, '0')}`;
    out.push({ day, cloud, currency: 'USD', key, billed: billed(d), effective: billed(d) * 0.9 });
  }
  return out;
}

describe('the cost report', () => {
  const daily = [
    ...days('aws', 1, 20, () => 50), // $2/h planned = $48/day: +4.17%
    ...days('gcp', 11, 20, (d) => (d === 15 ? 400 : 30)), // a spike on the 15th
    { day: '2026-11-03', cloud: 'gcp', currency: 'EUR', key: '', billed: 10, effective: 10 },
  ];
  const report = buildCostReport({
    range: { from: '2026-11-01', to: '2026-11-20' },
    by: 'cloud',
    daily,
    plan: plan(),
    budget: { monthly: 2000, warnAt: 0.8 },
    requests: { byCloud: { aws: 100_000 } },
  });

  it('puts billed and effective cost per cloud beside the estimate for the hours with data', () => {
    const aws = report.clouds.find((c) => c.cloud === 'aws')!;
    expect(aws).toMatchObject({ billed: 1000, effective: 900, daysWithData: 20, estimate: 960 });
    expect(aws.driftPct).toBeCloseTo(4.17, 2);
    // gcp has data for 10 days only: the estimate covers those 10 days.
    const gcp = report.clouds.find((c) => c.cloud === 'gcp' && c.currency === 'USD')!;
    expect(gcp.estimate).toBe(360);
    // A planned cloud without a bill is listed with its estimate.
    expect(report.clouds.find((c) => c.cloud === 'azure')).toMatchObject({
      billed: 0,
      daysWithData: 0,
      estimate: 1440,
    });
  });

  it('keeps currencies apart and never estimates a non-USD line', () => {
    const eur = report.clouds.find((c) => c.currency === 'EUR')!;
    expect(eur.billed).toBe(10);
    expect(eur.estimate).toBeUndefined();
    expect(report.totals.map((t) => t.currency)).toEqual(['EUR', 'USD']);
    expect(report.totals.find((t) => t.currency === 'USD')!.billed).toBe(1000 + 9 * 30 + 400);
    expect(report.notes[0]).toContain('EUR, USD');
  });

  it('names the cheapest cloud, cost per 1,000 inferences, budget burn and forecast', () => {
    expect(report.cheapest).toMatchObject({ cloud: 'gcp', billed: 670, currency: 'USD' });
    expect(report.clouds.find((c) => c.cloud === 'aws')!.per1k).toBe(10);
    expect(report.cheapestPer1k).toEqual({ cloud: 'aws', per1k: 10 });
    const b = report.budget!;
    expect(b.monthToDate).toBe(1670);
    expect(b.burn).toBeCloseTo(0.835, 3);
    // The last 7 days ran at 80/day (aws 50 + gcp 30): 10 days left.
    expect(b.dailyRate).toBe(80);
    expect(b.forecast).toBe(2470);
    expect(b.verdict).toBe('over');
  });

  it('names the day that stands out', () => {
    expect(report.anomalies).toHaveLength(1);
    expect(report.anomalies[0]).toMatchObject({
      day: '2026-11-15',
      cloud: 'gcp',
      billed: 400,
      expected: 30,
      kind: 'spike',
    });
  });

  it('groups by target with the per-target estimate', () => {
    const byTarget = buildCostReport({
      range: { from: '2026-11-01', to: '2026-11-02' },
      by: 'target',
      daily: days('aws', 1, 2, () => 24, 'aws-use1'),
      plan: plan(),
    });
    expect(byTarget.groups).toEqual([
      expect.objectContaining({
        key: 'aws-use1',
        cloud: 'aws',
        billed: 48,
        estimate: 96,
        driftPct: -50,
      }),
    ]);
  });
});

describe('anomalies', () => {
  it('names nothing in a flat series with cent-level noise, or in a short one', () => {
    const flat = Array.from({ length: 14 }, (_, i) => ({
      day: `d${i}`,
      billed: 100 + (i % 2) * 0.01,
    }));
    expect(findAnomalies('aws', 'USD', flat)).toEqual([]);
    expect(
      findAnomalies('aws', 'USD', [
        { day: 'a', billed: 1 },
        { day: 'b', billed: 900 },
      ]),
    ).toEqual([]);
  });
  it('names a drop', () => {
    const s = Array.from({ length: 10 }, (_, i) => ({
      day: `d${i}`,
      billed: i === 4 ? 2 : 50 + i,
    }));
    expect(findAnomalies('aws', 'USD', s).map((a) => [a.day, a.kind])).toEqual([['d4', 'drop']]);
  });
});
