/**
 * Google Cloud DNS as a DnsProvider, through the official `@google-cloud/dns` client: reads
 * resource record sets and writes them as one change (deletions + additions), which Cloud DNS
 * applies atomically.
 */
import { DNS, type GetZonesRequest, type Zone } from '@google-cloud/dns';
import { McmlError } from '../../core/errors.js';
import type { DnsProvider, DnsRecord, DnsRecordType } from '../../ports/dns-provider.js';

export interface CloudDnsOptions {
  project: string;
  /** The zone's DNS name (example.com) or its managed zone name (example-com). */
  zone: string;
  /**
   * API base URL override, e.g. http://127.0.0.1:8085 for a local double. The client always
   * builds https://HOST/dns/v1, so a full URL replaces its base URL.
   */
  endpoint?: string;
  /** Auth client for the SDK (default: Application Default Credentials). */
  authClient?: ConstructorParameters<typeof DNS>[0] extends infer O
    ? O extends { authClient?: infer A }
      ? A
      : never
    : never;
}

interface ApiRecord {
  name?: string;
  type?: string;
  ttl?: number;
  rrdatas?: string[];
}

type CloudRecord = ReturnType<Zone['record']>;

const fqdn = (name: string) => name.replace(/\.$/, '').toLowerCase();
const dotted = (name: string) => `${fqdn(name)}.`;

export class CloudDnsProvider implements DnsProvider {
  readonly name = 'clouddns';
  readonly zone: string;
  private readonly client: DNS;
  private readonly zoneArg: string;
  private managed: Zone | undefined;
  private dnsName: string | undefined;

  constructor(options: CloudDnsOptions) {
    this.zoneArg = fqdn(options.zone);
    this.zone = this.zoneArg;
    this.client = new DNS({
      projectId: options.project,
      ...(options.authClient ? { authClient: options.authClient } : {}),
    });
    if (options.endpoint) {
      // The SDK has no plain-HTTP endpoint option; its base URL is a public property.
      (this.client as unknown as { baseUrl: string }).baseUrl =
        `${options.endpoint.replace(/\/+$/, '')}/dns/v1`;
    }
  }

  async get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined> {
    const found = await this.find(name, type);
    if (!found) return undefined;
    const meta = found.metadata as ApiRecord;
    return {
      name: fqdn(name),
      type,
      ttl: meta.ttl ?? 0,
      values: (meta.rrdatas ?? []).map(fqdn).sort(),
    };
  }

  async upsert(record: DnsRecord): Promise<void> {
    if (record.values.length === 0) {
      throw new McmlError('INVALID_ARGUMENT', `record ${record.name} ${record.type} needs a value`);
    }
    const zone = await this.resolve();
    const existing = await this.find(record.name, record.type);
    const add = zone.record(record.type.toLowerCase(), {
      name: dotted(record.name),
      ttl: record.ttl,
      data: record.values.map((v) => (record.type === 'CNAME' ? dotted(v) : v)),
    });
    await this.call(() => zone.createChange(existing ? { add, delete: existing } : { add }));
  }

  async delete(name: string, type: DnsRecordType): Promise<void> {
    const existing = await this.find(name, type);
    if (!existing) return;
    const zone = await this.resolve();
    await this.call(() => zone.createChange({ delete: existing }));
  }

  private async find(name: string, type: DnsRecordType): Promise<CloudRecord | undefined> {
    const zone = await this.resolve();
    this.inZone(name);
    const [records] = await this.call(() =>
      zone.getRecords({ name: dotted(name), type, autoPaginate: false }),
    );
    return records.find(
      (r) => r.type === type && fqdn((r.metadata as ApiRecord).name ?? '') === fqdn(name),
    );
  }

  private async resolve(): Promise<Zone> {
    if (this.managed) return this.managed;
    if (this.zoneArg.includes('.')) {
      const [zones] = await this.call(() =>
        // dnsName is a documented filter of managedZones.list the typings do not list.
        this.client.getZones({
          dnsName: dotted(this.zoneArg),
          autoPaginate: false,
        } as GetZonesRequest),
      );
      const zone = zones.find(
        (z) => fqdn((z.metadata as { dnsName?: string }).dnsName ?? '') === this.zoneArg,
      );
      if (!zone) throw this.noZone();
      this.managed = zone;
      this.dnsName = this.zoneArg;
    } else {
      const zone = this.client.zone(this.zoneArg);
      const [meta] = (await this.call(() => zone.getMetadata())) as [unknown, ...unknown[]];
      this.dnsName = fqdn((meta as { dnsName?: string }).dnsName ?? '');
      this.managed = zone;
    }
    return this.managed;
  }

  private inZone(name: string): void {
    const n = fqdn(name);
    const zone = this.dnsName ?? this.zoneArg;
    if (n !== zone && !n.endsWith(`.${zone}`)) {
      throw new McmlError('INVALID_ARGUMENT', `${n} is not in zone ${zone}`, {
        hint: `use a record name ending in .${zone}`,
      });
    }
  }

  private noZone(): McmlError {
    return new McmlError('NOT_FOUND', `Cloud DNS has no managed zone ${this.zoneArg}`, {
      hint: 'check failover.dns.zone (DNS name or managed zone name) and failover.dns.project',
    });
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof McmlError) throw error;
      const e = error as {
        code?: number | string;
        message?: string;
        errors?: { reason?: string }[];
      };
      const message = `Cloud DNS: ${e.message ?? String(error)}`;
      // Google answers quota and rate limits with 429, or with 403 and a rate-limit reason.
      const reasons = (e.errors ?? []).map((x) => x.reason ?? '');
      if (e.code === 429 || reasons.some((r) => /rateLimitExceeded|quotaExceeded/.test(r))) {
        throw new McmlError('PROVIDER_UNAVAILABLE', message, {
          cause: error,
          details: { retryable: true },
          hint: 'Cloud DNS throttled the requests (project quota); mcml retries with backoff',
        });
      }
      if (e.code === 404)
        throw new McmlError('NOT_FOUND', message, { cause: error, hint: this.noZone().hint ?? '' });
      if (e.code === 401)
        throw new McmlError('PROVIDER_AUTH', message, {
          cause: error,
          hint: 'run "gcloud auth application-default login" or set GOOGLE_APPLICATION_CREDENTIALS',
        });
      if (e.code === 403) throw new McmlError('PERMISSION_DENIED', message, { cause: error });
      if (e.code === 400) throw new McmlError('INVALID_ARGUMENT', message, { cause: error });
      if (e.code === 409 || e.code === 412)
        throw new McmlError('CONFLICT', message, { cause: error });
      throw new McmlError('PROVIDER_UNAVAILABLE', message, { cause: error });
    }
  }
}
