import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { parseSpec } from '../spec/index.js';
import { dnsValueFor, planFailover, redactUrl } from './config.js';
import { jurisdictionFromRegion } from './jurisdiction.js';

const yaml = (extra = '', targets?: string) => `
service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
targets:
${
  targets ??
  `  - { name: b, provider: aws, region: us-east-1, tier: 2, endpoint: "http://127.0.0.2:8000" }
  - { name: a, provider: gcp, region: europe-west4, endpoint: "http://127.0.0.1:8000/" }
  - { name: c, provider: azure, region: westeurope, probes: ["http://127.0.0.3:1/x", "http://127.0.0.3:2/x"], endpoint: "http://127.0.0.3:8000" }`
}
${extra}
`;

describe('planFailover', () => {
  it('orders tiers (list order by default), builds probes and quorum', () => {
    const plan = planFailover(parseSpec(yaml()).spec, jurisdictionFromRegion);
    expect(plan.targets.map((t) => [t.name, t.tier, t.jurisdiction, t.quorum])).toEqual([
      ['b', 2, 'us', 1],
      ['a', 2, 'eu', 1],
      ['c', 3, 'eu', 2],
    ]);
    expect(plan.targets[1]!.probes).toEqual(['http://127.0.0.1:8000/v2/health/ready']);
    expect(plan.machine).toMatchObject({ failureThreshold: 3, successThreshold: 2 });
    expect(plan.intervalMs).toBe(2000);
  });

  it('rejects a target without an endpoint and a DNS section missing what it needs', () => {
    const spec = parseSpec(yaml('', `  - { name: a, provider: aws, region: us-east-1 }`)).spec;
    // The parser checks DNS settings too; programmatic callers (mcml up) reach this check.
    spec.failover.mode = 'dns';
    spec.failover.dns = {
      provider: 'rfc2136',
      zone: 'example.com',
      record: 'ml.example.com',
      ttl: 5,
      tsigAlgorithm: 'hmac-sha256',
      tsigSecretEnv: 'X',
      route53Failover: false,
    };
    let error: unknown;
    try {
      planFailover(spec, jurisdictionFromRegion);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(McmlError);
    const e = error as McmlError;
    expect(e.code).toBe('SPEC_INVALID');
    expect(e.issues.map((i) => i.path)).toEqual([
      'targets[0].endpoint',
      'failover.dns.server',
      'failover.dns.tsigKeyName',
    ]);
  });

  it('rejects an unknown DNS provider at parse time', () => {
    expect(() =>
      parseSpec(
        yaml(`failover:
  dns: { provider: godaddy, zone: example.com, record: ml.example.com }`),
      ),
    ).toThrow(McmlError);
  });

  it('maps endpoints to DNS values', () => {
    expect(dnsValueFor('http://10.0.0.1:8000')).toEqual({ type: 'A', value: '10.0.0.1' });
    expect(dnsValueFor('http://[::1]:80')).toEqual({ type: 'AAAA', value: '::1' });
    expect(dnsValueFor('https://lb.example.net/')).toEqual({
      type: 'CNAME',
      value: 'lb.example.net',
    });
  });

  it('refuses a cloud credential or the TSIG secret as the admin token', () => {
    const issuesOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as McmlError).issues;
      }
      return [];
    };
    for (const env of [
      'AWS_SECRET_ACCESS_KEY',
      'AZURE_CLIENT_SECRET',
      'GOOGLE_APPLICATION_CREDENTIALS',
    ]) {
      // Where the spec says it, with its position…
      const parsed = issuesOf(() =>
        parseSpec(yaml(`failover: { frontDoor: { adminTokenEnv: ${env} } }`)),
      );
      expect(parsed).toEqual([
        expect.objectContaining({ path: expect.stringContaining('adminTokenEnv') as string }),
      ]);
      expect(parsed[0]!.line).toBeGreaterThan(0);
      // …and for programmatic callers of planFailover.
      const spec = parseSpec(yaml()).spec;
      spec.failover.frontDoor.adminTokenEnv = env;
      expect(issuesOf(() => planFailover(spec, jurisdictionFromRegion))).toEqual([
        expect.objectContaining({ path: 'failover.frontDoor.adminTokenEnv' }),
      ]);
    }
    const tsig = issuesOf(() =>
      parseSpec(
        yaml(`failover:
  mode: both
  frontDoor: { adminTokenEnv: MCML_TSIG_SECRET }
  dns: { provider: rfc2136, zone: example.com, record: ml.example.com, server: "127.0.0.1:53", tsigKeyName: k }`),
      ),
    );
    expect(tsig.map((i) => i.message)).toEqual([expect.stringContaining('MCML_TSIG_SECRET')]);
    const own = parseSpec(yaml(`failover: { frontDoor: { adminTokenEnv: MY_TOKEN } }`)).spec;
    expect(planFailover(own, jurisdictionFromRegion).config.frontDoor.adminTokenEnv).toBe(
      'MY_TOKEN',
    );
  });

  it('redacts credentials from URLs', () => {
    expect(redactUrl('https://user:pass@lb.example.net:8443/x?y=1')).toBe(
      'https://lb.example.net:8443/x?y=1',
    );
    expect(redactUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(redactUrl('http://h/a@b')).toBe('http://h/a@b');
  });
});
