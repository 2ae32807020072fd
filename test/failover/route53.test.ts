/** The Route 53 adapter against moto_server, through the official AWS SDK. */
import {
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Route53Provider } from '../../src/adapters/route53/index.js';
import { McmlError } from '../../src/core/errors.js';
import { runDnsProviderContract } from '../contracts/dns-provider.js';
import { startMoto, type Moto } from '../helpers/moto.js';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

async function zoneOn(moto: Moto, zone: string) {
  const client = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials });
  const out = await client.send(
    new CreateHostedZoneCommand({ Name: zone, CallerReference: `${zone}-${Date.now()}` }),
  );
  client.destroy();
  return out.HostedZone!.Id!;
}

runDnsProviderContract('route53 on moto', async () => {
  const moto = await startMoto();
  await zoneOn(moto, 'example.test');
  return {
    provider: new Route53Provider({
      zone: 'example.test',
      endpoint: moto.endpoint,
      clientConfig: { credentials },
    }),
    zone: 'example.test',
    stop: () => moto.stop(),
  };
});

describe('route53 specifics', () => {
  let moto: Moto;
  let zoneId: string;
  beforeAll(async () => {
    moto = await startMoto();
    zoneId = await zoneOn(moto, 'failover.test');
  });
  afterAll(async () => {
    await moto?.stop();
  });

  /** Every record set of the zone under the record, as Route 53 lists it, in a short form. */
  async function chainOnMoto(record: string) {
    const client = new Route53Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials });
    const out = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    client.destroy();
    return (out.ResourceRecordSets ?? [])
      .filter((s) => s.Name!.replace(/\.$/, '').endsWith(record))
      .map((s) =>
        [
          s.Name!.replace(/\.$/, ''),
          s.Type,
          s.Failover ?? '-',
          s.SetIdentifier ?? '-',
          s.ResourceRecords?.[0]?.Value ?? `alias ${s.AliasTarget?.DNSName?.replace(/\.$/, '')}`,
          s.HealthCheckId === undefined ? '-' : 'hc',
        ].join(' '),
      )
      .sort();
  }

  const tier = (target: string, endpoint: string) => ({
    target,
    endpoint,
    healthCheckUrl: `${endpoint}/v2/health/ready`,
  });

  it('chains every tier as the rendered Terraform does, idempotently, and prunes what is gone', async () => {
    const p = new Route53Provider({
      zone: 'failover.test',
      hostedZoneId: zoneId,
      endpoint: moto.endpoint,
      clientConfig: { credentials },
    });
    // A plain record left by an earlier run without route53Failover: replaced by the chain.
    await p.upsert({
      name: 'ml.failover.test',
      type: 'CNAME',
      ttl: 10,
      values: ['old.example.net'],
    });
    const tiers = [
      tier('aws', 'http://lb-aws.example.net:8000'),
      tier('gcp', 'http://203.0.113.10:8000'),
      tier('azure', 'http://ml.westeurope.cloudapp.azure.com'),
    ];
    const first = await p.upsertFailoverChain('ml.failover.test', 10, tiers);
    const again = await p.upsertFailoverChain('ml.failover.test', 10, tiers);
    expect(again).toEqual(first);
    expect(Object.keys(first.healthCheckIds)).toEqual(['aws', 'gcp', 'azure']);
    expect(new Set(Object.values(first.healthCheckIds)).size).toBe(3);
    expect(await chainOnMoto('ml.failover.test')).toEqual([
      'gcp.lb.ml.failover.test A - - 203.0.113.10 -',
      'ml.failover.test CNAME PRIMARY aws lb-aws.example.net hc',
      'ml.failover.test CNAME SECONDARY gcp-and-below alias tier2.ml.failover.test -',
      'tier2.ml.failover.test CNAME PRIMARY gcp gcp.lb.ml.failover.test hc',
      'tier2.ml.failover.test CNAME SECONDARY azure ml.westeurope.cloudapp.azure.com hc',
    ]);
    // The adapter reads the same chain back.
    expect((await p.failoverChain('ml.failover.test')).length).toBe(5);

    // One tier fewer: the deepest level and the lb record of the dropped IP tier go.
    await p.upsertFailoverChain('ml.failover.test', 10, [tiers[0]!, tiers[2]!]);
    expect(await chainOnMoto('ml.failover.test')).toEqual([
      'ml.failover.test CNAME PRIMARY aws lb-aws.example.net hc',
      'ml.failover.test CNAME SECONDARY azure ml.westeurope.cloudapp.azure.com hc',
    ]);
    await p.close();
  });

  it('refuses an IPv6 endpoint in a failover chain, naming the target', async () => {
    const p = new Route53Provider({
      zone: 'failover.test',
      hostedZoneId: zoneId,
      endpoint: moto.endpoint,
      clientConfig: { credentials },
    });
    const e = (await p
      .upsertFailoverChain('v6.failover.test', 10, [
        tier('a', 'http://lb.example.net'),
        tier('b', 'http://[2001:db8::1]:8000'),
      ])
      .catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('target b');
    expect(await chainOnMoto('v6.failover.test')).toEqual([]);
    await p.close();
  });

  it('reports a zone that does not exist', async () => {
    const p = new Route53Provider({
      zone: 'missing.test',
      endpoint: moto.endpoint,
      clientConfig: { credentials },
    });
    const e = (await p.get('ml.missing.test', 'A').catch((x: unknown) => x)) as McmlError;
    expect(e).toBeInstanceOf(McmlError);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('missing.test');
    await p.close();
  });

  it('reports an unreachable API as PROVIDER_UNAVAILABLE', async () => {
    const p = new Route53Provider({
      zone: 'failover.test',
      hostedZoneId: zoneId,
      endpoint: 'http://127.0.0.1:9',
      clientConfig: { credentials, maxAttempts: 1 },
    });
    const e = (await p.get('ml.failover.test', 'A').catch((x: unknown) => x)) as McmlError;
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
    await p.close();
  });
});
