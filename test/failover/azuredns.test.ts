/** The Azure DNS adapter, through @azure/arm-dns, against the local HTTPS REST double. */
import type { TokenCredential } from '@azure/core-auth';
import { describe, expect, it } from 'vitest';
import { AzureDnsProvider } from '../../src/adapters/azuredns/index.js';
import { McmlError } from '../../src/core/errors.js';
import { runDnsProviderContract } from '../contracts/dns-provider.js';
import { startAzureDnsDouble } from '../doubles/azuredns.js';

/** A credential that hands out a fixed token, as a managed identity would. */
const credential: TokenCredential = {
  getToken: () =>
    Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

runDnsProviderContract('azuredns on the REST double', async () => {
  const double = await startAzureDnsDouble();
  double.addZone('mcml-rg', 'example.test');
  return {
    provider: new AzureDnsProvider({
      subscriptionId: double.subscriptionId,
      resourceGroup: 'mcml-rg',
      zone: 'example.test',
      endpoint: double.endpoint,
      ca: double.ca,
      credential,
    }),
    zone: 'example.test',
    lookup: (name, type) => {
      const set = double.recordSet(
        'mcml-rg',
        'example.test',
        name.replace(/\.example\.test$/, ''),
        type,
      );
      const p = set?.properties as { ARecords?: { ipv4Address: string }[] } | undefined;
      return Promise.resolve((p?.ARecords ?? []).map((r) => r.ipv4Address).sort());
    },
    stop: () => double.stop(),
  };
});

describe('azuredns specifics', () => {
  it('reports a zone or resource group that does not exist', async () => {
    const double = await startAzureDnsDouble();
    try {
      const p = new AzureDnsProvider({
        subscriptionId: double.subscriptionId,
        resourceGroup: 'nope-rg',
        zone: 'example.test',
        endpoint: double.endpoint,
        ca: double.ca,
        credential,
      });
      const e = (await p
        .upsert({ name: 'ml.example.test', type: 'A', ttl: 5, values: ['127.0.0.1'] })
        .catch((x: unknown) => x)) as McmlError;
      expect(e).toBeInstanceOf(McmlError);
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toContain('nope-rg');
    } finally {
      await double.stop();
    }
  });
});
