/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- parsed JSON and HCL documents */
/**
 * The rendered Route 53 change batch applied to moto_server's Route 53 through the AWS SDK,
 * the same steps as dns/apply-route53.sh: create the health checks, fill in their IDs, apply.
 * Without a front door the tiers are the services; with one (front-door and both modes) they
 * are the clusters' front doors.
 */
import { readFileSync } from 'node:fs';
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { parse } from '@cdktf/hcl2json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { render, HOSTED_ZONE_TOKEN, healthCheckToken } from '../../src/core/render/index.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { loadSpec, REPO, threeCloudsPlan } from './fixtures.js';

describe('Route 53 failover records without a front door (dns mode)', { timeout: 120_000 }, () => {
  const spec = loadSpec('three-clouds.yaml', (t) => t.replace('mode: both', 'mode: dns'));
  const files = render(spec, threeCloudsPlan(spec)).files;
  let moto: Moto;
  let client: Route53Client;

  beforeAll(async () => {
    moto = await startMoto();
    client = new Route53Client({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('applies to Route 53 (moto): three tiers as two nested failover pairs with health checks', async () => {
    const zone = await client.send(
      new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'mcml-test' }),
    );
    const zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
    let batch = files['dns/route53-change-batch.json']!.replaceAll(HOSTED_ZONE_TOKEN, zoneId);
    const ids: Record<string, string> = {};
    for (const check of JSON.parse(files['dns/route53-health-checks.json']!)) {
      const created = await client.send(
        new CreateHealthCheckCommand({
          CallerReference: check.CallerReference,
          HealthCheckConfig: check.HealthCheckConfig,
        }),
      );
      ids[check.target] = created.HealthCheck!.Id!;
      batch = batch.replaceAll(healthCheckToken(check.target), ids[check.target]!);
    }
    expect(batch).not.toMatch(/@@/);
    await client.send(
      new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: JSON.parse(batch) }),
    );
    const listed = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    const sets = (listed.ResourceRecordSets ?? []).filter(
      (s) => s.Type !== 'NS' && s.Type !== 'SOA',
    );
    const view = sets
      .map((s) => ({
        name: s.Name!.replace(/\.$/, ''),
        type: s.Type,
        failover: s.Failover,
        id: s.SetIdentifier,
        value: s.ResourceRecords?.[0]?.Value ?? s.AliasTarget?.DNSName?.replace(/\.$/, ''),
        check: s.HealthCheckId,
      }))
      .sort((a, b) => `${a.name}${a.failover}`.localeCompare(`${b.name}${b.failover}`));
    expect(view).toEqual([
      {
        name: 'gcp-secondary.lb.ml.example.com',
        type: 'A',
        failover: undefined,
        id: undefined,
        value: '34.120.10.20',
        check: undefined,
      },
      {
        name: 'ml.example.com',
        type: 'CNAME',
        failover: 'PRIMARY',
        id: 'aws-primary',
        value: 'aws.ml.example.com',
        check: ids['aws-primary'],
      },
      {
        name: 'ml.example.com',
        type: 'CNAME',
        failover: 'SECONDARY',
        id: 'gcp-secondary-and-below',
        value: 'tier2.ml.example.com',
        check: undefined,
      },
      {
        name: 'tier2.ml.example.com',
        type: 'CNAME',
        failover: 'PRIMARY',
        id: 'gcp-secondary',
        value: 'gcp-secondary.lb.ml.example.com',
        check: ids['gcp-secondary'],
      },
      {
        name: 'tier2.ml.example.com',
        type: 'CNAME',
        failover: 'SECONDARY',
        id: 'azure-tertiary',
        value: 'ml-inference-azure-tertiary.eastus.cloudapp.azure.com',
        check: ids['azure-tertiary'],
      },
    ]);
  });

  it('uses fast health checks on the readiness endpoint', () => {
    const checks = JSON.parse(files['dns/route53-health-checks.json']!);
    expect(checks.map((c: any) => c.HealthCheckConfig)).toEqual([
      {
        Type: 'HTTPS',
        FullyQualifiedDomainName: 'aws.ml.example.com',
        Port: 443,
        ResourcePath: '/v2/health/ready',
        RequestInterval: 10,
        FailureThreshold: 3,
        MeasureLatency: true,
      },
      {
        Type: 'HTTP',
        IPAddress: '34.120.10.20',
        Port: 80,
        ResourcePath: '/v2/health/ready',
        RequestInterval: 10,
        FailureThreshold: 3,
        MeasureLatency: true,
      },
      {
        Type: 'HTTP',
        FullyQualifiedDomainName: 'ml-inference-azure-tertiary.eastus.cloudapp.azure.com',
        Port: 80,
        ResourcePath: '/v2/health/ready',
        RequestInterval: 10,
        FailureThreshold: 3,
        MeasureLatency: true,
      },
    ]);
  });

  it('matches the route53-failover Terraform module: names, identifiers, checks, tiers', async () => {
    const module: any = await parse(
      'main.tf',
      readFileSync(`${REPO}terraform/modules/route53-failover/main.tf`, 'utf8'),
    );
    const locals = module.locals[0];
    // Level k ≥ 1 is "tier<k+1>.<record>"; an IP tier gets "<name>.lb.<record>".
    expect(locals.level_names).toContain('"tier${k + 1}.${var.record_name}"');
    expect(locals.tier_hosts).toContain('"${t.name}.lb.${var.record_name}"');
    const records = module.resource.aws_route53_record;
    expect(records.secondary_nested[0].set_identifier).toBe(
      '${var.tiers[each.value + 1].name}-and-below',
    );
    expect(records.primary[0].set_identifier).toBe('${var.tiers[each.value].name}');
    const check = module.resource.aws_route53_health_check.tier[0];
    expect(check.request_interval).toBe('${var.request_interval}');
    const variables: any = await parse(
      'variables.tf',
      readFileSync(`${REPO}terraform/modules/route53-failover/variables.tf`, 'utf8'),
    );
    expect(variables.variable.request_interval[0].default).toBe(10);
    expect(variables.variable.failure_threshold[0].default).toBe(3);
    // The root module passes the tiers in the same order as the change batch.
    const dns: any = await parse('main.tf', files['terraform/dns/main.tf']!);
    const tiers = dns.module.dns_failover[0].tiers;
    expect(tiers.map((t: any) => [t.name, t.host, t.protocol, t.port, t.path])).toEqual([
      ['aws-primary', 'aws.ml.example.com', 'HTTPS', 443, '/v2/health/ready'],
      ['gcp-secondary', '34.120.10.20', 'HTTP', 80, '/v2/health/ready'],
      [
        'azure-tertiary',
        'ml-inference-azure-tertiary.eastus.cloudapp.azure.com',
        'HTTP',
        80,
        '/v2/health/ready',
      ],
    ]);
    expect(dns.data.aws_route53_zone.this[0].name).toBe('example.com');
  });
});

describe('Route 53 failover records with the in-cluster front doors (front-door and both modes)', () => {
  const spec = loadSpec('three-clouds.yaml');
  const result = render(spec, threeCloudsPlan(spec));
  const files = result.files;

  it("points every tier at its cluster's front door, health-checked on the path it proxies", async () => {
    const dns: any = await parse('main.tf', files['terraform/dns/main.tf']!);
    const tiers = dns.module.dns_failover[0].tiers;
    // Every tier in order (the chain keeps all of them); no service endpoint in the records.
    expect(tiers.map((t: any) => [t.name, t.host, t.protocol, t.port, t.path])).toEqual([
      ['aws-primary', '${var.lb_host_aws_primary}', 'HTTP', 80, '/v2/health/ready'],
      ['gcp-secondary', '${var.lb_host_gcp_secondary}', 'HTTP', 80, '/v2/health/ready'],
      [
        'azure-tertiary',
        'ml-inference-azure-tertiary-fd.eastus.cloudapp.azure.com',
        'HTTP',
        80,
        '/v2/health/ready',
      ],
    ]);
    // The Azure name is the front door Service's DNS label, not the service's.
    const patch = files['k8s/overlays/azure-tertiary/front-door-patch.yaml']!;
    expect(patch).toContain(
      'service.beta.kubernetes.io/azure-dns-label-name: ml-inference-azure-tertiary-fd',
    );
    // The variables say how to read the front door's load balancer after "mcml deploy".
    const vars: any = await parse('variables.tf', files['terraform/dns/variables.tf']!);
    expect(vars.variable.lb_host_aws_primary[0].description).toMatch(
      /front door's load balancer in aws-primary's cluster, after "mcml deploy": kubectl --context aws-primary -n ml-inference get service mcml-front-door /,
    );
    expect(Object.keys(vars.variable).sort()).toEqual([
      'lb_host_aws_primary',
      'lb_host_gcp_secondary',
    ]);
  });

  it('writes no change batch while a front door address is unknown, and says why', () => {
    expect(Object.keys(files).filter((p) => p.startsWith('dns/'))).toEqual([]);
    expect(result.warnings.join('\n')).toMatch(
      /dns: the DNS failover records point at each cluster's front door, whose address aws-primary, gcp-secondary will have only after "mcml deploy", so dns\/ is not written/,
    );
  });

  it('with another DNS provider: no records rendered, and render says where the name must point', () => {
    for (const mode of ['front-door', 'both']) {
      const other = loadSpec('three-clouds.yaml', (t) =>
        t.replace('mode: both', `mode: ${mode}`).replace('provider: route53', 'provider: clouddns'),
      );
      const r = render(other, threeCloudsPlan(other));
      expect(Object.keys(r.files).filter((p) => /^(dns|terraform\/dns)\//.test(p))).toEqual([]);
      expect(r.warnings.join('\n')).toMatch(
        mode === 'both'
          ? /dns: render writes failover records for Route 53 only; with clouddns, "mcml failover" \(mode both\) points ml\.example\.com at the active target's service, past the in-cluster front doors/
          : /dns: render writes failover records for Route 53 only; with clouddns, point ml\.example\.com at the clusters' front doors \(kubectl -n ml-inference get service mcml-front-door in each cluster\) yourself/,
      );
    }
  });

  it('the front door prefers its own target, then the next tiers', () => {
    const own = parseYaml(files['k8s/overlays/gcp-secondary/front-door-mcml.yaml']!);
    expect(own.targets.map((t: any) => [t.name, t.endpoint])).toEqual([
      ['aws-primary', 'https://aws.ml.example.com'],
      ['gcp-secondary', 'http://ml-inference.ml-inference.svc.cluster.local'],
    ]);
    expect(files['k8s/overlays/gcp-secondary/front-door-patch.yaml']).toContain(
      'value: gcp-secondary',
    );
  });

  it('with TLS at the edge: the Gateway on 443, and a route for the health checks by address', async () => {
    const edged = loadSpec('three-clouds.yaml', (t) =>
      t.replace(
        '  env:\n    LOG_LEVEL: info\n',
        '  env:\n    LOG_LEVEL: info\n  tls:\n    hosts: [ml.example.com]\n    issuer: letsencrypt\n',
      ),
    );
    const r = render(edged, threeCloudsPlan(edged));
    const dns: any = await parse('main.tf', r.files['terraform/dns/main.tf']!);
    expect(dns.module.dns_failover[0].tiers.map((t: any) => [t.host, t.protocol, t.port])).toEqual([
      ['${var.lb_host_aws_primary}', 'HTTPS', 443],
      ['${var.lb_host_gcp_secondary}', 'HTTPS', 443],
      ['${var.lb_host_azure_tertiary}', 'HTTPS', 443],
    ]);
    const vars: any = await parse('variables.tf', r.files['terraform/dns/variables.tf']!);
    expect(vars.variable.lb_host_azure_tertiary[0].description).toMatch(
      /get gateway mcml-edge -o jsonpath='\{\.status\.addresses\[0\]\.value\}'/,
    );
    const edge = r.files['k8s/overlays/aws-primary/edge.yaml']!.split(/^---$/m).map((d) =>
      parseYaml(d),
    );
    const health = edge.find((o: any) => o.metadata.name === 'mcml-edge-health');
    expect(health.spec.hostnames).toBeUndefined();
    expect(health.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'Exact', value: '/v2/health/ready' } }],
        backendRefs: [{ name: 'mcml-front-door', port: 80 }],
      },
    ]);
  });
});
