/**
 * DNS record writers as a port: Route 53, RFC 2136 (BIND), Google Cloud DNS and Azure DNS
 * implement it, and one contract suite (test/contracts/dns-provider.ts) runs against every
 * adapter. An adapter is bound to one zone; record names are fully qualified.
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
  /** The zone this provider writes to, without the trailing dot. */
  readonly zone: string;
  /** The API's documented write rate limit (Route 53: 5 per second); undefined: none known. */
  readonly maxWritesPerSecond?: number;
  /** The record set as the provider has it now, or undefined. */
  get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined>;
  /** Creates or replaces the record set. Idempotent. */
  upsert(record: DnsRecord): Promise<void>;
  /** Removes the record set; removing a missing one is not an error. */
  delete(name: string, type: DnsRecordType): Promise<void>;
  /** Releases connections; the provider is unusable afterwards. */
  close?(): Promise<void>;
}
