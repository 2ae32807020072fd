/**
 * Azure DNS as a DnsProvider, through the official `@azure/arm-dns` management client.
 * Record sets are addressed relative to the zone ("ml" in example.com; "@" for the apex).
 */
import type { TokenCredential } from '@azure/core-auth';
import { DnsManagementClient, type RecordSet } from '@azure/arm-dns';
import { McmlError } from '../../core/errors.js';
import type { DnsProvider, DnsRecord, DnsRecordType } from '../../ports/dns-provider.js';

export interface AzureDnsOptions {
  subscriptionId: string;
  resourceGroup: string;
  zone: string;
  /** Default: DefaultAzureCredential from @azure/identity. */
  credential?: TokenCredential;
  /** Resource Manager endpoint override (sovereign clouds, local doubles). */
  endpoint?: string;
  /** Extra CA certificates to trust (a local double's self-signed certificate). */
  ca?: string;
}

const fqdn = (name: string) => name.replace(/\.$/, '').toLowerCase();

export class AzureDnsProvider implements DnsProvider {
  readonly name = 'azuredns';
  readonly zone: string;
  private readonly options: AzureDnsOptions;
  private client: DnsManagementClient | undefined;
  private zoneChecked = false;

  constructor(options: AzureDnsOptions) {
    this.options = options;
    this.zone = fqdn(options.zone);
  }

  async get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined> {
    const relative = this.relative(name);
    const client = await this.ready();
    let set: RecordSet;
    try {
      set = await client.recordSets.get(this.options.resourceGroup, this.zone, relative, type);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        await this.checkZone(client);
        return undefined;
      }
      throw this.mapError(error);
    }
    const values =
      type === 'A'
        ? (set.aRecords ?? []).map((r) => r.ipv4Address ?? '')
        : type === 'AAAA'
          ? (set.aaaaRecords ?? []).map((r) => r.ipv6Address ?? '')
          : set.cnameRecord?.cname
            ? [fqdn(set.cnameRecord.cname)]
            : [];
    if (values.length === 0) return undefined;
    return { name: fqdn(name), type, ttl: set.ttl ?? 0, values: values.sort() };
  }

  async upsert(record: DnsRecord): Promise<void> {
    const relative = this.relative(record.name);
    if (record.values.length === 0) {
      throw new McmlError('INVALID_ARGUMENT', `record ${record.name} ${record.type} needs a value`);
    }
    const body: RecordSet = { ttl: record.ttl };
    if (record.type === 'A') body.aRecords = record.values.map((ipv4Address) => ({ ipv4Address }));
    else if (record.type === 'AAAA') {
      body.aaaaRecords = record.values.map((ipv6Address) => ({ ipv6Address }));
    } else body.cnameRecord = { cname: record.values[0]! };
    const client = await this.ready();
    await this.checkZone(client);
    try {
      await client.recordSets.createOrUpdate(
        this.options.resourceGroup,
        this.zone,
        relative,
        record.type,
        body,
      );
    } catch (error) {
      throw this.mapError(error);
    }
  }

  async delete(name: string, type: DnsRecordType): Promise<void> {
    const relative = this.relative(name);
    const client = await this.ready();
    try {
      await client.recordSets.delete(this.options.resourceGroup, this.zone, relative, type);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return;
      throw this.mapError(error);
    }
  }

  private relative(name: string): string {
    const n = fqdn(name);
    if (n === this.zone) return '@';
    if (!n.endsWith(`.${this.zone}`)) {
      throw new McmlError('INVALID_ARGUMENT', `${n} is not in zone ${this.zone}`, {
        hint: `use a record name ending in .${this.zone}`,
      });
    }
    return n.slice(0, -this.zone.length - 1);
  }

  private async checkZone(client: DnsManagementClient): Promise<void> {
    if (this.zoneChecked) return;
    try {
      await client.zones.get(this.options.resourceGroup, this.zone);
      this.zoneChecked = true;
    } catch (error) {
      throw this.mapError(error);
    }
  }

  private async ready(): Promise<DnsManagementClient> {
    if (this.client) return this.client;
    let credential = this.options.credential;
    if (!credential) {
      const { DefaultAzureCredential } = await import('@azure/identity');
      credential = new DefaultAzureCredential();
    }
    this.client = new DnsManagementClient(credential, this.options.subscriptionId, {
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      ...(this.options.ca ? { tlsOptions: { ca: this.options.ca } } : {}),
      retryOptions: { maxRetries: 2 },
    });
    return this.client;
  }

  private mapError(error: unknown): McmlError {
    if (error instanceof McmlError) return error;
    const e = error as { statusCode?: number; code?: string; message?: string; name?: string };
    const message = `Azure DNS: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`;
    const where = `zone ${this.zone} in resource group ${this.options.resourceGroup}`;
    switch (e.statusCode) {
      case 404:
        return new McmlError('NOT_FOUND', `Azure DNS has no ${where}`, {
          cause: error,
          hint: 'check failover.dns.zone, resourceGroup and subscriptionId',
        });
      case 401:
        return new McmlError('PROVIDER_AUTH', message, {
          cause: error,
          hint: 'sign in with "az login" or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET',
        });
      case 403:
        return new McmlError('PERMISSION_DENIED', message, {
          cause: error,
          hint: 'the identity needs the "DNS Zone Contributor" role on the zone',
        });
      case 400:
        return new McmlError('INVALID_ARGUMENT', message, { cause: error });
      case 409:
      case 412:
        return new McmlError('CONFLICT', message, { cause: error });
      case 429:
        return new McmlError('PROVIDER_UNAVAILABLE', message, {
          cause: error,
          details: { retryable: true },
          hint: 'Azure Resource Manager throttled the requests; mcml retries with backoff',
        });
      default:
        if (e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationError') {
          return new McmlError('PROVIDER_AUTH', message, { cause: error });
        }
        return new McmlError('PROVIDER_UNAVAILABLE', message, { cause: error });
    }
  }
}
