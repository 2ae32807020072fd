/**
 * The contract every BillingSource keeps (src/ports/billing-source.ts), run against each
 * adapter on its emulator or double: daily rows for exactly the asked range with billed and
 * effective cost as the API holds them, the mcml tags carried, pages followed; throttling
 * retried by the pull engine; a refusal reported for that cloud while the others still land.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChargeRow } from '../../src/core/cost/types.js';
import { McmlError } from '../../src/core/errors.js';
import { openCostStore } from '../../src/engines/cost/store.js';
import { pullBilling } from '../../src/engines/cost/pull.js';
import type { BillingSource } from '../../src/ports/billing-source.js';
import type { Clock } from '../../src/ports/clock.js';

/** What the API holds: one line per day, service and mcml-target tag. */
export interface BillingFixtureLine {
  day: string;
  service: string;
  target: string;
  billed: number;
  effective: number;
}

export interface BillingHarness {
  source: BillingSource;
  /** The next `n` API calls answer "throttled". */
  throttleNext(n: number): void;
  /** Every API call answers "permission denied" while on. */
  deny(on: boolean): void;
  /** API calls answered so far (throttled and denied ones included). */
  calls(): number;
  stop(): Promise<void>;
}

export const SERVICE = 'ml-inference';

/** Ten days of November 2026, two services, two targets: enough rows for several pages. */
export function billingFixture(target: string): BillingFixtureLine[] {
  const out: BillingFixtureLine[] = [];
  for (let d = 1; d <= 10; d++) {
    const day = `2026-11-${String(d).padStart(2, '0')}`;
    out.push({ day, service: 'Compute', target, billed: 10 + d, effective: 9 + d });
    out.push({ day, service: 'Storage', target, billed: 1.25, effective: 1.25 });
    out.push({
      day,
      service: 'Compute',
      target: `${target}-canary`,
      billed: d / 4,
      effective: d / 4,
    });
  }
  return out;
}

/** A clock whose sleeps return at once, remembering how long they would have been. */
function fakeClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  let now = Date.parse('2026-12-02T00:00:00Z');
  return {
    slept,
    now: () => now,
    sleep: (ms: number) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

const sum = (rows: { billed?: number; billedCost?: number }[]) =>
  rows.reduce((a, r) => a + (r.billedCost ?? r.billed ?? 0), 0);

export function runBillingSourceContract(
  name: string,
  cloud: 'aws' | 'gcp' | 'azure',
  create: (fixture: BillingFixtureLine[]) => Promise<BillingHarness>,
): void {
  describe(`BillingSource contract: ${name}`, () => {
    let harness: BillingHarness | undefined;
    afterEach(async () => {
      await harness?.stop();
      harness = undefined;
    });
    const target = `${cloud}-main`;
    const range = { from: '2026-11-03', to: '2026-11-07' };
    const fixture = billingFixture(target);
    const inRange = fixture.filter((l) => l.day >= range.from && l.day <= range.to);

    it('returns daily rows for the range, with billed and effective cost, tags and currency', async () => {
      harness = await create(fixture);
      const rows: ChargeRow[] = await harness.source.pull({
        range,
        service: SERVICE,
        attribution: 'tags',
      });
      expect(harness.source.cloud).toBe(cloud);
      expect(rows.every((r) => r.cloud === cloud && r.currency === 'USD')).toBe(true);
      const days = [...new Set(rows.map((r) => r.chargePeriodStart.slice(0, 10)))].sort();
      expect(days).toEqual(['2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07']);
      expect(sum(rows)).toBeCloseTo(sum(inRange), 6);
      expect(rows.reduce((a, r) => a + r.effectiveCost, 0)).toBeCloseTo(
        inRange.reduce((a, l) => a + l.effective, 0),
        6,
      );
      for (const r of rows) {
        expect(r.tags?.['mcml-service']).toBe(SERVICE);
        expect([target, `${target}-canary`]).toContain(r.tags?.['mcml-target']);
        expect(Date.parse(r.chargePeriodEnd) - Date.parse(r.chargePeriodStart)).toBe(86_400_000);
      }
      const canary = rows.filter((r) => r.tags?.['mcml-target'] === `${target}-canary`);
      expect(sum(canary)).toBeCloseTo(sum(inRange.filter((l) => l.target.endsWith('-canary'))), 6);
      // The fixture spans several pages of every API: all of them were read.
      expect(harness.calls()).toBeGreaterThan(1);
    });

    it('is retried with backoff when throttled, then lands in the store', async () => {
      harness = await create(fixture);
      harness.throttleNext(2);
      const store = await openCostStore(':memory:');
      const clock = fakeClock();
      try {
        const [outcome] = await pullBilling({
          store,
          sources: [harness.source],
          range,
          service: SERVICE,
          attribution: 'tags',
          clock,
        });
        expect(outcome!.error).toBeUndefined();
        expect(outcome!.attempts).toBe(3);
        expect(clock.slept).toHaveLength(2);
        const daily = await store.dailyCosts({
          range,
          by: 'target',
          attribution: { mode: 'tags', service: SERVICE, accounts: {} },
        });
        expect(sum(daily)).toBeCloseTo(sum(inRange), 6);
        expect(await store.failedPulls(range)).toEqual([]);
      } finally {
        store.close();
      }
    });

    it('reports a refusal for its cloud, not retried, while another cloud still lands', async () => {
      harness = await create(fixture);
      harness.deny(true);
      const other: BillingSource = {
        cloud: cloud === 'aws' ? 'gcp' : 'aws',
        scope: 'other:fixed',
        pull: () =>
          Promise.resolve([
            {
              cloud: cloud === 'aws' ? 'gcp' : 'aws',
              providerName: 'other',
              chargePeriodStart: '2026-11-03T00:00:00Z',
              chargePeriodEnd: '2026-11-04T00:00:00Z',
              chargeCategory: 'Usage',
              billedCost: 5,
              effectiveCost: 5,
              currency: 'USD',
              tags: { 'mcml-service': SERVICE },
            },
          ]),
      };
      const store = await openCostStore(':memory:');
      try {
        const outcomes = await pullBilling({
          store,
          sources: [harness.source, other],
          range,
          service: SERVICE,
          attribution: 'tags',
          clock: fakeClock(),
        });
        const denied = outcomes.find((o) => o.cloud === cloud)!;
        expect(denied.error).toBeInstanceOf(McmlError);
        expect(denied.error!.code).toBe('PERMISSION_DENIED');
        expect(denied.error!.message).toMatch(new RegExp(`^${cloud}: `));
        expect(denied.attempts).toBe(1);
        expect(outcomes.find((o) => o.cloud !== cloud)!.rows).toBe(1);
        expect(await store.failedPulls(range)).toEqual([{ cloud, reason: denied.error!.message }]);
      } finally {
        store.close();
      }
    });
  });
}
