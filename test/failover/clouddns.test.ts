/** The Cloud DNS adapter, through the official client, against the local REST double. */
import { OAuth2Client } from 'google-auth-library';
import { describe, expect, it } from 'vitest';
import { CloudDnsProvider } from '../../src/adapters/clouddns/index.js';
import type { McmlError } from '../../src/core/errors.js';
import { runDnsProviderContract } from '../contracts/dns-provider.js';
import { startCloudDnsDouble } from '../doubles/clouddns.js';

/** A real OAuth2 client holding an unexpired token: the SDK signs requests without a network. */
function testAuth() {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'test-token', expiry_date: Date.now() + 3_600_000 });
  return auth;
}

runDnsProviderContract('clouddns on the REST double', async () => {
  const double = await startCloudDnsDouble();
  double.addZone('example-test', 'example.test.');
  return {
    provider: new CloudDnsProvider({
      project: double.project,
      zone: 'example.test',
      endpoint: double.endpoint,
      authClient: testAuth(),
    }),
    zone: 'example.test',
    lookup: (name, type) =>
      Promise.resolve(
        double
          .records('example-test')
          .filter((r) => r.name === `${name}.` && r.type === type)
          .flatMap((r) => r.rrdatas)
          .sort(),
      ),
    stop: () => double.stop(),
  };
});

describe('clouddns specifics', () => {
  it('finds a zone by managed zone name, writes CNAMEs with the trailing dot, reports a missing zone', async () => {
    const double = await startCloudDnsDouble();
    double.addZone('prod-zone', 'prod.test.');
    try {
      const p = new CloudDnsProvider({
        project: double.project,
        zone: 'prod-zone',
        endpoint: double.endpoint,
        authClient: testAuth(),
      });
      await p.upsert({ name: 'ml.prod.test', type: 'CNAME', ttl: 10, values: ['lb.example.net'] });
      expect(double.records('prod-zone')).toEqual([
        expect.objectContaining({ name: 'ml.prod.test.', rrdatas: ['lb.example.net.'] }),
      ]);
      const missing = new CloudDnsProvider({
        project: double.project,
        zone: 'nope.test',
        endpoint: double.endpoint,
        authClient: testAuth(),
      });
      const e = (await missing.get('ml.nope.test', 'A').catch((x: unknown) => x)) as McmlError;
      expect(e.code).toBe('NOT_FOUND');
    } finally {
      await double.stop();
    }
  });
});
