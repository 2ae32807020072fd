/** The Route 53 adapter against moto_server, through the official AWS SDK. */
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
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

  it('manages native PRIMARY/SECONDARY records with health checks, idempotently', async () => {
    const p = new Route53Provider({
      zone: 'failover.test',
      hostedZoneId: zoneId,
      endpoint: moto.endpoint,
      clientConfig: { credentials },
    });
    const primary = {
      type: 'A' as const,
      value: '203.0.113.10',
      healthCheckUrl: 'http://203.0.113.10:8000/v2/health/ready',
    };
    const secondary = {
      type: 'A' as const,
      value: '198.51.100.7',
      healthCheckUrl: 'http://198.51.100.7:8000/v2/health/ready',
    };
    const first = await p.upsertFailoverPair('ml.failover.test', 10, primary, secondary);
    const again = await p.upsertFailoverPair('ml.failover.test', 10, primary, secondary);
    expect(again).toEqual(first);
    const sets = await p.failoverRecords('ml.failover.test');
    expect(
      sets
        .map((s) => [
          s.Failover,
          s.SetIdentifier,
          s.ResourceRecords?.[0]?.Value,
          s.HealthCheckId,
          s.TTL,
        ])
        .sort(),
    ).toEqual([
      ['PRIMARY', 'mcml-primary', '203.0.113.10', first.primaryHealthCheckId, 10],
      ['SECONDARY', 'mcml-secondary', '198.51.100.7', first.secondaryHealthCheckId, 10],
    ]);
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
