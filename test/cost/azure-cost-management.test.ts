/** Azure Cost Management Query through @azure/arm-costmanagement against the HTTPS REST double. */
import type { TokenCredential } from '@azure/core-auth';
import { describe, expect, it } from 'vitest';
import { openBillingSources } from '../../src/adapters/billing/index.js';
import { runBillingSourceContract, SERVICE } from '../contracts/billing-source.js';
import { startAzureCostDouble, type AzureCostDouble } from '../doubles/azure-cost.js';

const SCOPE = '/subscriptions/6b0a1c3e-1f3d-4b7e-9c2a-2f4b8d7e6a10';

/** A credential that hands out a fixed token, as a managed identity would. */
const credential: TokenCredential = {
  getToken: () =>
    Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

async function source(double: AzureCostDouble) {
  const [s] = await openBillingSources({
    azure: { scope: SCOPE, endpoint: double.endpoint, credential, ca: double.ca },
  });
  return s!;
}

runBillingSourceContract('Azure Cost Management on the REST double', 'azure', async (fixture) => {
  const double = await startAzureCostDouble();
  for (const l of fixture) {
    double.lines.push({
      day: l.day,
      service: l.service,
      subscriptionId: SCOPE.split('/')[2]!,
      tags: { 'mcml-service': SERVICE, 'mcml-target': l.target },
      actual: l.billed,
      amortized: l.effective,
      currency: 'USD',
    });
  }
  // Lines of another service in the same subscription: the tag filter leaves them out.
  double.lines.push({
    day: '2026-11-04',
    service: 'Compute',
    subscriptionId: 'x',
    tags: { team: 'data' },
    actual: 1000,
    amortized: 1000,
    currency: 'USD',
  });
  return {
    source: await source(double),
    throttleNext: (n) => double.throttleNext(n),
    deny: (on) => double.deny(on),
    calls: () => double.requests.length,
    stop: () => double.stop(),
  };
});

describe('Azure Cost Management specifics', () => {
  it('asks ActualCost and AmortizedCost for the days, grouped by service and the mcml-target tag', async () => {
    const double = await startAzureCostDouble();
    try {
      const s = await source(double);
      await s.pull({
        range: { from: '2026-11-03', to: '2026-11-07' },
        service: SERVICE,
        attribution: 'tags',
      });
      const bodies = double.requests.map((r) => r.body);
      expect(bodies.map((b) => b.type)).toEqual(['ActualCost', 'AmortizedCost']);
      expect(bodies[0]!.timePeriod!.from!.slice(0, 10)).toBe('2026-11-03');
      expect(bodies[0]!.timePeriod!.to!.slice(0, 10)).toBe('2026-11-07');
      expect(bodies[0]!.dataset!.grouping).toEqual([
        { type: 'Dimension', name: 'ServiceName' },
        { type: 'TagKey', name: 'mcml-target' },
      ]);
      expect(bodies[0]!.dataset!.filter).toEqual({
        tags: { name: 'mcml-service', operator: 'In', values: [SERVICE] },
      });
      expect(double.requests[0]!.url).toContain(
        `${SCOPE}/providers/Microsoft.CostManagement/query?api-version=`,
      );
    } finally {
      await double.stop();
    }
  });

  it('groups by subscription when attributing by account', async () => {
    const double = await startAzureCostDouble();
    try {
      double.lines.push({
        day: '2026-11-03',
        service: 'Storage',
        subscriptionId: 'sub-a',
        tags: {},
        actual: 3,
        amortized: 2,
        currency: 'EUR',
      });
      const rows = await (
        await source(double)
      ).pull({
        range: { from: '2026-11-03', to: '2026-11-03' },
        service: SERVICE,
        attribution: 'accounts',
      });
      expect(rows).toEqual([
        expect.objectContaining({
          subAccountId: 'sub-a',
          billedCost: 3,
          effectiveCost: 2,
          currency: 'EUR',
          serviceName: 'Storage',
        }),
      ]);
    } finally {
      await double.stop();
    }
  });
});
