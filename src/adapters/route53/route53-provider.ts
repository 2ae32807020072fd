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
} from '@aws-sdk/client-route-53';
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

/** One side of a native Route 53 failover pair. */
export interface Route53FailoverSide {
  type: DnsRecordType;
  value: string;
  /** URL Route 53's checkers probe, e.g. http://203.0.113.10:8000/v2/health/ready. */
  healthCheckUrl: string;
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
   * Creates (or finds: same settings, same caller reference) a Route 53 health check for each
   * side and upserts PRIMARY/SECONDARY failover records. Route 53 then fails over by itself,
   * in 30–90 s plus the TTL; mcml's own controller stays faster and covers more tiers.
   */
  async upsertFailoverPair(
    name: string,
    ttl: number,
    primary: Route53FailoverSide,
    secondary: Route53FailoverSide,
  ): Promise<{ primaryHealthCheckId: string; secondaryHealthCheckId: string }> {
    const record = this.inZone(name);
    if (primary.type !== secondary.type) {
      throw new McmlError('INVALID_ARGUMENT', 'both sides of a failover pair need one type', {
        details: { primary: primary.type, secondary: secondary.type },
      });
    }
    const [p, s] = await Promise.all([
      this.healthCheck(primary.healthCheckUrl),
      this.healthCheck(secondary.healthCheckUrl),
    ]);
    const side = (role: 'PRIMARY' | 'SECONDARY', v: Route53FailoverSide, id: string): Change => ({
      Action: 'UPSERT',
      ResourceRecordSet: {
        Name: dotted(record),
        Type: v.type,
        SetIdentifier: `mcml-${role.toLowerCase()}`,
        Failover: role,
        TTL: ttl,
        HealthCheckId: id,
        ResourceRecords: [{ Value: v.value }],
      },
    });
    await this.change([side('PRIMARY', primary, p), side('SECONDARY', secondary, s)]);
    return { primaryHealthCheckId: p, secondaryHealthCheckId: s };
  }

  /** The failover record sets of a name, as Route 53 has them. */
  async failoverRecords(name: string): Promise<ResourceRecordSet[]> {
    const zoneId = await this.resolveZone();
    const out = await this.call(() =>
      this.client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          StartRecordName: dotted(this.inZone(name)),
        }),
      ),
    );
    return (out.ResourceRecordSets ?? []).filter(
      (r) => fqdn(unescapeName(r.Name ?? '')) === fqdn(name) && r.Failover !== undefined,
    );
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
