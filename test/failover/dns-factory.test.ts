/**
 * The DNS provider factory (src/adapters/dns.ts), every branch, from a spec's `failover.dns`
 * to a record on the provider's server: route53 on moto, rfc2136 on BIND, clouddns and
 * azuredns on their REST doubles (issue 14 #22). Each writes through the factory's provider
 * and reads the record back from the server itself, not through the adapter.
 */
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsProvider } from '../../src/adapters/dns.js';
import type { McmlError } from '../../src/core/errors.js';
import type { DnsConfig } from '../../src/core/spec/index.js';
import { startAzureDnsDouble } from '../doubles/azuredns.js';
import { startCloudDnsDouble } from '../doubles/clouddns.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { failoverSpec } from './spec.js';

/** `failover.dns` as the spec parser produces it, from the YAML flow mapping given. */
function dnsConfig(yaml: string): DnsConfig {
  const spec = failoverSpec([{ name: 'a', url: 'http://127.0.0.1:1' }], `mode: dns\ndns: ${yaml}`);
  return spec.failover.dns!;
}

const A = (name: string) => ({ name, type: 'A' as const, ttl: 7, values: ['192.0.2.7'] });

describe('createDnsProvider, every provider', () => {
  let moto: Moto;
  let bind: Bind;
  const saved = { ...process.env };
  beforeAll(async () => {
    [moto, bind] = await Promise.all([startMoto({ auth: true }), startBind()]);
    // The AWS SDK reads its default credential chain: the environment, as a user's shell has it.
    process.env.AWS_ACCESS_KEY_ID = moto.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = moto.credentials.secretAccessKey;
    process.env.AWS_REGION = 'us-east-1';
  });
  afterAll(async () => {
    process.env = saved;
    await Promise.all([moto?.stop(), bind?.stop()]);
  });

  it('route53: finds the zone by name, endpoint from MCML_ROUTE53_ENDPOINT, credentials from the AWS chain', async () => {
    const client = new Route53Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: moto.credentials,
    });
    const zone = await client.send(
      new CreateHostedZoneCommand({ Name: 'factory.test', CallerReference: `f-${Date.now()}` }),
    );
    const p = await createDnsProvider(
      dnsConfig('{ provider: route53, zone: factory.test, record: ml.factory.test }'),
      { env: { MCML_ROUTE53_ENDPOINT: moto.endpoint } },
    );
    expect(p.name).toBe('route53');
    await p.upsert(A('ml.factory.test'));
    await p.close?.();
    const sets = await client.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zone.HostedZone!.Id! }),
    );
    client.destroy();
    expect(
      sets.ResourceRecordSets?.filter((s) => s.Type === 'A').map((s) => [s.Name, s.TTL]),
    ).toEqual([['ml.factory.test.', 7]]);
  });

  it('rfc2136: the TSIG secret from the variable the spec names; missing settings are input errors', async () => {
    const config = dnsConfig(
      `{ provider: rfc2136, zone: ${bind.zone}, record: ml.${bind.zone}, server: "${bind.server}", tsigKeyName: ${bind.keyName}, tsigSecretEnv: MY_TSIG }`,
    );
    const p = await createDnsProvider(config, { env: { MY_TSIG: bind.secret } });
    expect(p.name).toBe('rfc2136');
    await p.upsert(A(`ml.${bind.zone}`));
    await p.close?.();
    expect(await bind.dig(`ml.${bind.zone}`, 'A')).toEqual(['192.0.2.7']);

    const noSecret = (await createDnsProvider(config, { env: {} }).catch(
      (e: unknown) => e,
    )) as McmlError;
    expect(noSecret.code).toBe('PROVIDER_AUTH');
    expect(noSecret.message).toContain('MY_TSIG');
    // The spec schema asks for the server already; the factory checks again for callers
    // that build the configuration in code.
    const { server: _server, ...withoutServer } = config;
    const noServer = (await createDnsProvider(withoutServer, {
      env: { MY_TSIG: bind.secret },
    }).catch((e: unknown) => e)) as McmlError;
    expect(noServer.code).toBe('SPEC_INVALID');
    expect(noServer.message).toContain('failover.dns.server');
  });

  it('clouddns: project and endpoint from the spec, the token from GOOGLE_OAUTH_ACCESS_TOKEN', async () => {
    const double = await startCloudDnsDouble('factory-project', { token: 'factory-token' });
    double.addZone('factory-zone', 'factory.test.');
    try {
      const config = dnsConfig(
        `{ provider: clouddns, zone: factory.test, record: ml.factory.test, project: factory-project, endpoint: "${double.endpoint}" }`,
      );
      const p = await createDnsProvider(config, {
        env: { GOOGLE_OAUTH_ACCESS_TOKEN: 'factory-token' },
      });
      expect(p.name).toBe('clouddns');
      await p.upsert(A('ml.factory.test'));
      expect(double.records('factory-zone').map((r) => [r.name, r.rrdatas])).toEqual([
        ['ml.factory.test.', ['192.0.2.7']],
      ]);
      const noProject = (await createDnsProvider(
        dnsConfig('{ provider: clouddns, zone: factory.test, record: ml.factory.test }'),
      ).catch((e: unknown) => e)) as McmlError;
      expect(noProject.code).toBe('SPEC_INVALID');
      expect(noProject.message).toContain('failover.dns.project');
    } finally {
      await double.stop();
    }
  });

  it('azuredns: subscription, resource group and endpoint from the spec', async () => {
    const double = await startAzureDnsDouble(undefined, { token: 'factory-token' });
    double.addZone('factory-rg', 'factory.test');
    const credential: TokenCredential = {
      getToken: () =>
        Promise.resolve({ token: 'factory-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    try {
      const config = dnsConfig(
        `{ provider: azuredns, zone: factory.test, record: ml.factory.test, subscriptionId: "${double.subscriptionId}", resourceGroup: factory-rg, endpoint: "${double.endpoint}" }`,
      );
      const p = await createDnsProvider(config, { azureCredential: credential, ca: double.ca });
      expect(p.name).toBe('azuredns');
      await p.upsert(A('ml.factory.test'));
      expect(double.recordSet('factory-rg', 'factory.test', 'ml', 'A')?.properties).toEqual({
        TTL: 7,
        ARecords: [{ ipv4Address: '192.0.2.7' }],
      });
      const noGroup = (await createDnsProvider(
        dnsConfig(
          `{ provider: azuredns, zone: factory.test, record: ml.factory.test, subscriptionId: x }`,
        ),
      ).catch((e: unknown) => e)) as McmlError;
      expect(noGroup.code).toBe('SPEC_INVALID');
      expect(noGroup.message).toContain('failover.dns.resourceGroup');
    } finally {
      await double.stop();
    }
  });
});
