/**
 * Route 53 as a DnsProvider: UPSERT of a simple record set pointing at the active target,
 * and, optionally, native PRIMARY/SECONDARY failover records with Route 53 health checks.
 */
import { createHash } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  ListHealthChecksCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type Change,
  type ResourceRecordSet,
  type Route53ClientConfig,
  type RRType,
} from '@aws-sdk/client-route-53';
import { route53ChangeBatch } from '../../core/render/dns.js';
import { McmlError } from '../../core/errors.js';
import type { DnsProvider, DnsRecord, DnsRecordType } from '../../ports/dns-provider.js';

export interface Route53Options {
  zone: string;
  hostedZoneId?: string;
  /** API endpoint override (moto_server). */
  endpoint?: string;
  region?: string;
  client?: Route53Client;
  clientConfig?: Route53ClientConfig;
}

/** One tier of a native Route 53 failover chain. */
export interface Route53FailoverTier {
  /** Target name: the record sets' SetIdentifier. */
  target: string;
  /** The target's endpoint URL; its host is where the tier's CNAME points. */
  endpoint: string;
  /** URL Route 53's checkers probe, e.g. http://203.0.113.10:8000/v2/health/ready. */
  healthCheckUrl: string;
}

/** The host a tier's CNAME points at: a DNS name, or an IPv4 address (given an A record). */
function chainHost(tier: Route53FailoverTier): string {
  const host = new URL(tier.endpoint).hostname;
  if (host.startsWith('[')) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `target ${tier.target}: Route 53 failover records need a DNS name or an IPv4 address, not ${host}`,
      { hint: 'give the target an endpoint with a DNS name (its load balancer)' },
    );
  }
  return host;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const fqdn = (name: string) => name.replace(/\.$/, '').toLowerCase();
const dotted = (name: string) => `${fqdn(name)}.`;

/** Route 53 escapes some characters in names it returns (\052 for *). */
function unescapeName(name: string): string {
  return name.replace(/\\(\d{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)));
}

export class Route53Provider implements DnsProvider {
  readonly name = 'route53';
  readonly zone: string;
  /** Route 53 allows five ChangeResourceRecordSets requests per second per account. */
  readonly maxWritesPerSecond = 5;
  private readonly client: Route53Client;
  private zoneId: string | undefined;

  constructor(options: Route53Options) {
    this.zone = fqdn(options.zone);
    this.zoneId = options.hostedZoneId?.replace(/^\/hostedzone\//, '');
    this.client =
      options.client ??
      new Route53Client({
        region: options.region ?? 'us-east-1',
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        maxAttempts: 3,
        ...options.clientConfig,
      });
  }

  async get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined> {
    const set = await this.find(this.inZone(name), type, undefined);
    if (!set?.ResourceRecords) return undefined;
    return {
      name: fqdn(name),
      type,
      ttl: set.TTL ?? 0,
      values: set.ResourceRecords.map((r) => fqdn(r.Value ?? '')).sort(),
    };
  }

  async upsert(record: DnsRecord): Promise<void> {
    const name = this.inZone(record.name);
    if (record.values.length === 0) {
      throw new McmlError('INVALID_ARGUMENT', `record ${name} ${record.type} needs a value`);
    }
    await this.change([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: dotted(name),
          Type: record.type,
          TTL: record.ttl,
          ResourceRecords: record.values.map((v) => ({ Value: v })),
        },
      },
    ]);
  }

  async delete(name: string, type: DnsRecordType): Promise<void> {
    const set = await this.find(this.inZone(name), type, undefined);
    if (!set) return;
    await this.change([{ Action: 'DELETE', ResourceRecordSet: set }]);
  }

  /**
   * Route 53's own failover over every tier, the record sets the `route53-failover` Terraform
   * module creates (src/core/render/dns.ts): the record is PRIMARY tier 1 / SECONDARY an alias
   * to `tier2.<record>`, which is PRIMARY tier 2 / SECONDARY `tier3.<record>`, and so on; the
   * deepest level's SECONDARY is the last tier. Each tier gets a Route 53 health check (found
   * again, not duplicated, on a rerun). Sets mcml wrote before under these names that are no
   * longer wanted (a removed tier, a plain record) are deleted in the same change batch.
   * Route 53 then fails over by itself, in 30–90 s plus the TTL.
   */
  async upsertFailoverChain(
    name: string,
    ttl: number,
    tiers: readonly Route53FailoverTier[],
  ): Promise<{ healthCheckIds: Record<string, string> }> {
    const record = this.inZone(name);
    if (tiers.length === 0) {
      throw new McmlError('INVALID_ARGUMENT', `the failover chain of ${record} needs a tier`);
    }
    const hosts = tiers.map((t) => ({ target: t.target, host: chainHost(t) }));
    const zoneId = await this.resolveZone();
    const ids = await Promise.all(tiers.map((t) => this.healthCheck(t.healthCheckUrl)));
    const healthCheckIds = Object.fromEntries(tiers.map((t, i) => [t.target, ids[i]!]));
    const wanted = route53ChangeBatch({
      record,
      ttl,
      hostedZoneId: zoneId,
      tiers: hosts,
      healthCheckIds,
    }).Changes.map((c) => c.ResourceRecordSet as ResourceRecordSet);
    const key = (s: ResourceRecordSet) =>
      `${fqdn(unescapeName(s.Name ?? ''))} ${s.Type} ${s.SetIdentifier ?? ''}`;
    const keep = new Set(wanted.map(key));
    const stale = (await this.failoverChain(record)).filter((s) => !keep.has(key(s)));
    await this.change([
      ...stale.map((s): Change => ({ Action: 'DELETE', ResourceRecordSet: s })),
      ...wanted.map((s): Change => ({ Action: 'UPSERT', ResourceRecordSet: s })),
    ]);
    return { healthCheckIds };
  }

  /**
   * The record sets of a failover chain as Route 53 has them: the record and its
   * `tier<k>.<record>` levels (failover sets, or a plain record at the name itself) and the
   * `<target>.lb.<record>` A records of tiers whose host is an IPv4 address.
   */
  async failoverChain(name: string): Promise<ResourceRecordSet[]> {
    const record = this.inZone(name);
    const zoneId = await this.resolveZone();
    const level = new RegExp(`^tier\\d+\\.${escapeRegExp(record)}$`);
    const lb = new RegExp(`^[^.]+\\.lb\\.${escapeRegExp(record)}$`);
    const out: ResourceRecordSet[] = [];
    let start: { name?: string; type?: RRType; id?: string } = {};
    for (;;) {
      const page = await this.call(() =>
        this.client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            ...(start.name ? { StartRecordName: start.name } : {}),
            ...(start.type ? { StartRecordType: start.type } : {}),
            ...(start.id ? { StartRecordIdentifier: start.id } : {}),
          }),
        ),
      );
      for (const s of page.ResourceRecordSets ?? []) {
        const n = fqdn(unescapeName(s.Name ?? ''));
        const chained = s.Type === 'CNAME' || s.Type === 'A' || s.Type === 'AAAA';
        if (
          (chained && n === record) ||
          (s.Failover !== undefined && level.test(n)) ||
          (s.Type === 'A' && lb.test(n))
        ) {
          out.push(s);
        }
      }
      if (!page.IsTruncated) return out;
      start = {
        ...(page.NextRecordName ? { name: page.NextRecordName } : {}),
        ...(page.NextRecordType ? { type: page.NextRecordType } : {}),
        ...(page.NextRecordIdentifier ? { id: page.NextRecordIdentifier } : {}),
      };
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  private async healthCheck(url: string): Promise<string> {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
    const config = {
      Type: https ? ('HTTPS' as const) : ('HTTP' as const),
      ...(isIp ? { IPAddress: host } : { FullyQualifiedDomainName: host }),
      Port: u.port ? Number(u.port) : https ? 443 : 80,
      ResourcePath: `${u.pathname}${u.search}`,
      RequestInterval: 10,
      FailureThreshold: 3,
    };
    // Same settings, same caller reference: reuse the check instead of piling up new ones.
    const ref = `mcml-${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 58)}`;
    let marker: string | undefined;
    do {
      const page = await this.call(() =>
        this.client.send(new ListHealthChecksCommand(marker ? { Marker: marker } : {})),
      );
      const found = page.HealthChecks?.find((h) => h.CallerReference === ref);
      if (found?.Id) return found.Id;
      marker = page.IsTruncated ? page.NextMarker : undefined;
    } while (marker);
    const out = await this.call(() =>
      this.client.send(
        new CreateHealthCheckCommand({ CallerReference: ref, HealthCheckConfig: config }),
      ),
    );
    const id = out.HealthCheck?.Id;
    if (!id) throw new McmlError('PROVIDER_UNAVAILABLE', 'Route 53 returned no health check id');
    return id;
  }

  private async find(name: string, type: DnsRecordType, setIdentifier: string | undefined) {
    const zoneId = await this.resolveZone();
    const out = await this.call(() =>
      this.client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          StartRecordName: dotted(name),
          StartRecordType: type,
          MaxItems: 10,
        }),
      ),
    );
    return (out.ResourceRecordSets ?? []).find(
      (r) =>
        fqdn(unescapeName(r.Name ?? '')) === name &&
        r.Type === type &&
        r.SetIdentifier === setIdentifier,
    );
  }

  private async change(changes: Change[]): Promise<void> {
    const zoneId = await this.resolveZone();
    await this.call(() =>
      this.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Comment: 'mcml failover', Changes: changes },
        }),
      ),
    );
  }

  private async resolveZone(): Promise<string> {
    if (this.zoneId) return this.zoneId;
    const out = await this.call(() =>
      this.client.send(new ListHostedZonesByNameCommand({ DNSName: dotted(this.zone) })),
    );
    const zone = (out.HostedZones ?? []).find((z) => fqdn(z.Name ?? '') === this.zone);
    if (!zone?.Id) {
      throw new McmlError('NOT_FOUND', `Route 53 has no hosted zone named ${this.zone}`, {
        hint: 'check failover.dns.zone, or set failover.dns.hostedZoneId',
      });
    }
    this.zoneId = zone.Id.replace(/^\/hostedzone\//, '');
    return this.zoneId;
  }

  private inZone(name: string): string {
    const n = fqdn(name);
    if (n !== this.zone && !n.endsWith(`.${this.zone}`)) {
      throw new McmlError('INVALID_ARGUMENT', `${n} is not in zone ${this.zone}`, {
        hint: `use a record name ending in .${this.zone}`,
      });
    }
    return n;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw mapAwsError(error, this.zone);
    }
  }
}

function mapAwsError(error: unknown, zone: string): McmlError {
  if (error instanceof McmlError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const message = `Route 53: ${name}: ${e.message ?? ''}`.trim();
  switch (name) {
    case 'NoSuchHostedZone':
      return new McmlError('NOT_FOUND', `Route 53 has no hosted zone for ${zone}`, {
        cause: error,
        hint: 'check failover.dns.hostedZoneId / zone',
      });
    case 'InvalidChangeBatch':
    case 'InvalidInput':
      return new McmlError('INVALID_ARGUMENT', message, { cause: error });
    case 'AccessDenied':
    case 'AccessDeniedException':
      return new McmlError('PERMISSION_DENIED', message, { cause: error });
    case 'CredentialsProviderError':
    case 'InvalidClientTokenId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
      return new McmlError('PROVIDER_AUTH', message, {
        cause: error,
        hint: 'set AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)',
      });
    default:
      return new McmlError('PROVIDER_UNAVAILABLE', message, { cause: error });
  }
}
