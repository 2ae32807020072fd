/**
 * DNS record writers as a port: Route 53, RFC 2136 (BIND), Google Cloud DNS and Azure DNS
 * implement it, and one contract suite runs against every adapter.
 */
export type DnsRecordType = 'A' | 'AAAA' | 'CNAME';

export interface DnsRecord {
  /** Fully qualified name, without the trailing dot: "ml.example.com". */
  name: string;
  type: DnsRecordType;
  ttl: number;
  values: string[];
}

export interface DnsProvider {
  readonly name: string;
  /** The record set as the provider has it now, or undefined. */
  get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined>;
  /** Creates or replaces the record set. Idempotent. */
  upsert(record: DnsRecord): Promise<void>;
  /** Removes the record set; removing a missing one is not an error. */
  delete(name: string, type: DnsRecordType): Promise<void>;
}
