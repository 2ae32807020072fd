/** The BigQuery FOCUS billing export through @google-cloud/bigquery against the REST double. */
import { OAuth2Client } from 'google-auth-library';
import { describe, expect, it } from 'vitest';
import { openBillingSources } from '../../src/adapters/billing/index.js';
import { runBillingSourceContract, SERVICE } from '../contracts/billing-source.js';
import { startBigQueryDouble, type BigQueryDouble } from '../doubles/bigquery.js';

function testAuth() {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'test-token', expiry_date: Date.now() + 3_600_000 });
  return auth;
}

async function source(double: BigQueryDouble) {
  const [s] = await openBillingSources({
    gcp: { table: double.table, endpoint: double.endpoint, authClient: testAuth() },
  });
  return s!;
}

runBillingSourceContract('BigQuery FOCUS export on the REST double', 'gcp', async (fixture) => {
  const double = await startBigQueryDouble();
  for (const l of fixture) {
    double.lines.push({
      day: l.day,
      service: l.service,
      subAccountId: 'mcml-prod',
      billingAccountId: '010101-F0FFF0-61C528',
      currency: 'USD',
      category: 'Usage',
      serviceTag: SERVICE,
      target: l.target,
      billed: l.billed,
      effective: l.effective,
    });
  }
  double.lines.push({
    day: '2026-11-04',
    service: 'BigQuery',
    subAccountId: 'x',
    billingAccountId: 'y',
    currency: 'USD',
    category: 'Usage',
    serviceTag: 'other',
    target: null,
    billed: 500,
    effective: 500,
  });
  return {
    source: await source(double),
    throttleNext: (n) => double.throttleNext(n),
    deny: (on) => double.deny(on),
    calls: () => double.requests.length,
    stop: () => double.stop(),
  };
});

describe('BigQuery FOCUS export specifics', () => {
  it('passes the range and the service as query parameters, never in the SQL text', async () => {
    const double = await startBigQueryDouble();
    try {
      await (
        await source(double)
      ).pull({
        range: { from: '2026-11-03', to: '2026-11-07' },
        service: "o'brien",
        attribution: 'tags',
      });
      const [q] = double.requests;
      expect(q!.params).toEqual({ from: '2026-11-03', until: '2026-11-08', service: "o'brien" });
      expect(q!.query).not.toContain("o'brien");
      expect(q!.query).toContain('UNNEST(Tags)');
    } finally {
      await double.stop();
    }
  });

  it('refuses a table name that is not project.dataset.table', async () => {
    await expect(openBillingSources({ gcp: { table: 'x; DROP TABLE y' } })).rejects.toThrow(
      /project\.dataset\.table/,
    );
  });
});
