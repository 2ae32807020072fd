import { describe, expect, it } from 'vitest';
import { levelName, route53ChangeBatch } from './dns.js';

const tiers = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ target: `t${i + 1}`, host: `t${i + 1}.lb.example.net` }));

const sets = (n: number) =>
  route53ChangeBatch({
    record: 'ml.example.com',
    ttl: 30,
    hostedZoneId: 'Z1',
    tiers: tiers(n),
    healthCheckIds: Object.fromEntries(tiers(n).map((t) => [t.target, `hc-${t.target}`])),
  }).Changes.map((c) => c.ResourceRecordSet);

describe('route53ChangeBatch', () => {
  it('one tier: a plain record', () => {
    expect(sets(1)).toEqual([
      {
        Name: 'ml.example.com',
        Type: 'CNAME',
        TTL: 30,
        ResourceRecords: [{ Value: 't1.lb.example.net' }],
      },
    ]);
  });

  it('two tiers: one PRIMARY/SECONDARY pair, both health-checked', () => {
    expect(sets(2).map((s) => [s.Name, s.Failover, s.SetIdentifier, s.HealthCheckId])).toEqual([
      ['ml.example.com', 'PRIMARY', 't1', 'hc-t1'],
      ['ml.example.com', 'SECONDARY', 't2', 'hc-t2'],
    ]);
  });

  it('four tiers: nested pairs, deepest first, each SECONDARY aliasing the next level', () => {
    const s = sets(4);
    expect(
      s.map((x) => [
        x.Name,
        x.Failover,
        x.SetIdentifier,
        x.AliasTarget?.DNSName ?? x.ResourceRecords?.[0]?.Value,
      ]),
    ).toEqual([
      ['tier3.ml.example.com', 'PRIMARY', 't3', 't3.lb.example.net'],
      ['tier3.ml.example.com', 'SECONDARY', 't4', 't4.lb.example.net'],
      ['tier2.ml.example.com', 'PRIMARY', 't2', 't2.lb.example.net'],
      ['tier2.ml.example.com', 'SECONDARY', 't3-and-below', 'tier3.ml.example.com'],
      ['ml.example.com', 'PRIMARY', 't1', 't1.lb.example.net'],
      ['ml.example.com', 'SECONDARY', 't2-and-below', 'tier2.ml.example.com'],
    ]);
    for (const x of s.filter((y) => y.AliasTarget)) {
      expect(x.AliasTarget).toMatchObject({ HostedZoneId: 'Z1', EvaluateTargetHealth: true });
      expect(x.TTL).toBeUndefined();
    }
  });

  it('an IPv4 host gets an A record that the chain points at', () => {
    const s = route53ChangeBatch({
      record: 'ml.example.com',
      ttl: 10,
      hostedZoneId: 'Z1',
      tiers: [
        { target: 'a', host: 'a.example.net' },
        { target: 'b', host: '203.0.113.7' },
      ],
      healthCheckIds: {},
    }).Changes.map((c) => c.ResourceRecordSet);
    expect(s[0]).toEqual({
      Name: 'b.lb.ml.example.com',
      Type: 'A',
      TTL: 10,
      ResourceRecords: [{ Value: '203.0.113.7' }],
    });
    expect(s.find((x) => x.Failover === 'SECONDARY')!.ResourceRecords).toEqual([
      { Value: 'b.lb.ml.example.com' },
    ]);
  });

  it('names levels like the Terraform module', () => {
    expect([0, 1, 2].map((k) => levelName('ml.example.com', k))).toEqual([
      'ml.example.com',
      'tier2.ml.example.com',
      'tier3.ml.example.com',
    ]);
  });
});
