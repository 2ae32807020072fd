/**
 * RFC 2136 dynamic DNS updates signed with TSIG: BIND, Knot, PowerDNS, Windows DNS. Reads
 * with a plain DNS query to the same (authoritative) server.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { isIPv6 } from 'node:net';
import { McmlError } from '../../core/errors.js';
import type { DnsProvider, DnsRecord, DnsRecordType } from '../../ports/dns-provider.js';
import {
  TSIG_ERRORS,
  TSIG_TYPE,
  parseTsigRdata,
  signMessage,
  verifyResponse,
  wireName,
  type TsigAlgorithm,
  type TsigKey,
  type TsigRecord,
} from './tsig.js';
import { exchange, parseServer, type DnsServer } from './transport.js';

export interface Rfc2136Options {
  /** Name server that accepts updates: "host", "host:port" or "[v6]:port". */
  server: string;
  zone: string;
  /** TSIG key; without one updates go unsigned (only for servers that allow that by IP). */
  tsig?: { name: string; algorithm: TsigAlgorithm; secretBase64: string };
  timeoutMs?: number;
  /** Seconds since the epoch, for TSIG time signed (tests may pin it). */
  now?: () => number;
}

const TYPE_CODES: Record<DnsRecordType, number> = { A: 1, AAAA: 28, CNAME: 5 };
const OPCODE_UPDATE = 5;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const RCODES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}

function trimDot(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** One resource record of a reply, with the rdata of A, AAAA and CNAME decoded. */
interface ReplyRecord {
  name: string;
  type: number;
  ttl: number;
  value: string | undefined;
}

interface ParsedReply {
  rcode: number;
  answers: ReplyRecord[];
  tsig: TsigRecord | undefined;
}

/** Reads a possibly compressed domain name (RFC 1035 §4.1.4); returns it and its length. */
function readName(buf: Buffer, start: number): { name: string; bytes: number } {
  const labels: string[] = [];
  let offset = start;
  let bytes = -1;
  for (let jumps = 0; jumps < 64;) {
    const len = buf[offset];
    if (len === undefined) throw new Error('truncated name');
    if ((len & 0xc0) === 0xc0) {
      if (bytes < 0) bytes = offset + 2 - start;
      offset = buf.readUInt16BE(offset) & 0x3fff;
      jumps++;
      continue;
    }
    if (len === 0) {
      if (bytes < 0) bytes = offset + 1 - start;
      return { name: labels.join('.').toLowerCase(), bytes };
    }
    labels.push(buf.subarray(offset + 1, offset + 1 + len).toString('utf8'));
    offset += len + 1;
  }
  throw new Error('name compression loop');
}

function rdataValue(buf: Buffer, type: number, offset: number, length: number) {
  if (type === 1 && length === 4) return [...buf.subarray(offset, offset + 4)].join('.');
  if (type === 28 && length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(offset + i).toString(16));
    return compressIpv6(groups.join(':'));
  }
  if (type === 5) return readName(buf, offset).name;
  return undefined;
}

/** Canonical IPv6 text (RFC 5952): the longest run of zero groups becomes "::". */
function compressIpv6(full: string): string {
  const groups = full.split(':');
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Walks a reply section by section to find its answers and its TSIG record. */
function parseReply(buf: Buffer): ParsedReply {
  if (buf.length < 12) throw new Error('reply shorter than a DNS header');
  const rcode = buf.readUInt16BE(2) & 0x0f;
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  let offset = 12;
  for (let i = 0; i < counts[0]!; i++) offset += readName(buf, offset).bytes + 4;
  const answers: ReplyRecord[] = [];
  let tsig: TsigRecord | undefined;
  const total = counts[1]! + counts[2]! + counts[3]!;
  for (let i = 0; i < total; i++) {
    const start = offset;
    const { name, bytes } = readName(buf, offset);
    const type = buf.readUInt16BE(offset + bytes);
    const ttl = buf.readUInt32BE(offset + bytes + 4);
    const rdlength = buf.readUInt16BE(offset + bytes + 8);
    const rdataOffset = offset + bytes + 10;
    if (type === TSIG_TYPE) {
      tsig = parseTsigRdata(buf, start, rdataOffset);
    } else if (i < counts[1]!) {
      answers.push({ name, type, ttl, value: rdataValue(buf, type, rdataOffset, rdlength) });
    }
    offset = rdataOffset + rdlength;
  }
  return { rcode, answers, tsig };
}

function encodeRdata(type: DnsRecordType, value: string): Buffer {
  if (type === 'A') {
    const parts = value.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      throw new McmlError('INVALID_ARGUMENT', `not an IPv4 address: "${value}"`);
    }
    return Buffer.from(parts);
  }
  if (type === 'AAAA') {
    if (!isIPv6(value)) throw new McmlError('INVALID_ARGUMENT', `not an IPv6 address: "${value}"`);
    const [head = '', tail = ''] = value.includes('::') ? value.split('::') : [value, ''];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
  }
  return wireName(value);
}

/** A DnsProvider that speaks RFC 2136 to one name server. */
export class Rfc2136Provider implements DnsProvider {
  readonly name = 'rfc2136';
  readonly zone: string;
  private readonly server: DnsServer;
  private readonly key: TsigKey | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly serverText: string;

  constructor(options: Rfc2136Options) {
    this.zone = trimDot(options.zone);
    this.serverText = options.server;
    this.server = parseServer(options.server);
    if (!Number.isInteger(this.server.port) || this.server.port <= 0) {
      throw new McmlError('INVALID_ARGUMENT', `not a name server address: "${options.server}"`, {
        hint: 'use host, host:port or [ipv6]:port',
      });
    }
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    if (options.tsig) {
      const secret = Buffer.from(options.tsig.secretBase64, 'base64');
      if (secret.length === 0 || !/^[A-Za-z0-9+/=\s]+$/.test(options.tsig.secretBase64)) {
        throw new McmlError(
          'INVALID_ARGUMENT',
          `the secret of TSIG key "${options.tsig.name}" is not valid base64`,
          { hint: 'copy the secret from the key file (tsig-keygen prints it)' },
        );
      }
      this.key = { name: trimDot(options.tsig.name), algorithm: options.tsig.algorithm, secret };
    }
  }

  async get(name: string, type: DnsRecordType): Promise<DnsRecord | undefined> {
    const fqdn = this.inZone(name);
    const query = dnsPacket.encode({
      type: 'query',
      id: randomInt(0, 65536),
      flags: 0,
      questions: [{ type, name: fqdn, class: 'IN' }],
    });
    const reply = parseReply(await this.send(query));
    if (reply.rcode === 3) return undefined;
    if (reply.rcode === 5 || reply.rcode === 9) throw this.zoneNotServed(reply.rcode);
    if (reply.rcode !== 0) throw this.failed('query', reply.rcode);
    const matching = reply.answers.filter(
      (a) => a.type === TYPE_CODES[type] && a.name === fqdn && a.value !== undefined,
    );
    if (matching.length === 0) return undefined;
    return {
      name: fqdn,
      type,
      ttl: matching[0]!.ttl,
      values: matching.map((a) => a.value!).sort(),
    };
  }

  async upsert(record: DnsRecord): Promise<void> {
    const fqdn = this.inZone(record.name);
    if (record.values.length === 0) {
      throw new McmlError('INVALID_ARGUMENT', `record ${fqdn} ${record.type} needs a value`);
    }
    if (record.type === 'CNAME' && record.values.length > 1) {
      throw new McmlError('INVALID_ARGUMENT', `a CNAME record has exactly one value`);
    }
    const adds = record.values.map((value) => {
      const rdata = encodeRdata(record.type, trimDot(value));
      const ttl = Buffer.alloc(4);
      ttl.writeUInt32BE(record.ttl, 0);
      return Buffer.concat([
        wireName(fqdn),
        u16(TYPE_CODES[record.type]),
        u16(CLASS_IN),
        ttl,
        u16(rdata.length),
        rdata,
      ]);
    });
    await this.update([this.deleteRrset(fqdn, record.type), ...adds]);
  }

  async delete(name: string, type: DnsRecordType): Promise<void> {
    await this.update([this.deleteRrset(this.inZone(name), type)]);
  }

  /** RFC 2136 §2.5.2: delete an RRset is class ANY, TTL 0, no rdata. */
  private deleteRrset(fqdn: string, type: DnsRecordType): Buffer {
    return Buffer.concat([
      wireName(fqdn),
      u16(TYPE_CODES[type]),
      u16(CLASS_ANY),
      Buffer.alloc(4),
      u16(0),
    ]);
  }

  private async update(updates: Buffer[]): Promise<void> {
    const header = Buffer.concat([
      u16(randomInt(0, 65536)),
      u16(OPCODE_UPDATE << 11),
      u16(1), // ZOCOUNT
      u16(0), // PRCOUNT
      u16(updates.length), // UPCOUNT
      u16(0), // ADCOUNT
    ]);
    const zoneSection = Buffer.concat([wireName(this.zone), u16(6), u16(CLASS_IN)]);
    let message: Buffer = Buffer.concat([header, zoneSection, ...updates]);
    let requestMac: Buffer | undefined;
    if (this.key) {
      const signed = signMessage(message, this.key, this.now());
      message = signed.signed;
      requestMac = signed.mac;
    }
    const raw = await this.send(message);
    const reply = parseReply(raw);
    if (reply.tsig && reply.tsig.error !== 0) {
      const code = TSIG_ERRORS[reply.tsig.error] ?? `TSIG error ${reply.tsig.error}`;
      throw this.keyRejected(code);
    }
    if (reply.rcode === 9 && this.key && !reply.tsig) throw this.keyRejected('NOTAUTH');
    if (reply.rcode !== 0) {
      if (reply.rcode === 9 || reply.rcode === 10) throw this.zoneNotServed(reply.rcode);
      if (reply.rcode === 5) {
        throw new McmlError(
          'PERMISSION_DENIED',
          `${this.serverText} refused the update of zone ${this.zone}` +
            (this.key ? ` signed with key "${this.key.name}"` : ' (unsigned)'),
          { hint: 'allow the key to update the zone (BIND: allow-update or update-policy)' },
        );
      }
      throw this.failed('update', reply.rcode);
    }
    if (this.key && requestMac) {
      if (!reply.tsig || !verifyResponse(raw, reply.tsig, this.key, requestMac)) {
        throw new McmlError(
          'INTEGRITY',
          `the reply of ${this.serverText} is not signed with key "${this.key.name}"`,
          { hint: 'something between mcml and the name server altered or forged the reply' },
        );
      }
    }
  }

  private async send(message: Buffer): Promise<Buffer> {
    try {
      return await exchange(this.server, message, this.timeoutMs);
    } catch (error) {
      throw new McmlError(
        'PROVIDER_UNAVAILABLE',
        `name server ${this.serverText} did not answer: ${(error as Error).message}`,
        { cause: error, hint: 'check failover.dns.server and that the server listens on UDP' },
      );
    }
  }

  private inZone(name: string): string {
    const fqdn = trimDot(name);
    if (fqdn !== this.zone && !fqdn.endsWith(`.${this.zone}`)) {
      throw new McmlError('INVALID_ARGUMENT', `${fqdn} is not in zone ${this.zone}`, {
        hint: `use a record name ending in .${this.zone}`,
      });
    }
    return fqdn;
  }

  private keyRejected(code: string): McmlError {
    const meaning: Record<string, string> = {
      BADKEY: 'the server does not know this key name or algorithm',
      BADSIG: 'the signature does not match: wrong secret',
      BADTIME: "the clocks differ by more than the fudge: check this machine's time",
    };
    return new McmlError(
      'PROVIDER_AUTH',
      `${this.serverText} rejected TSIG key "${this.key?.name ?? '(none)'}" (${code}` +
        `${meaning[code] ? `: ${meaning[code]}` : ''})`,
      { hint: 'check failover.dns.tsigKeyName, tsigAlgorithm and the secret in the environment' },
    );
  }

  private zoneNotServed(rcode: number): McmlError {
    return new McmlError(
      'NOT_FOUND',
      `${this.serverText} is not authoritative for zone ${this.zone} (${RCODES[rcode] ?? rcode})`,
      { hint: 'check failover.dns.zone and failover.dns.server' },
    );
  }

  private failed(what: string, rcode: number): McmlError {
    return new McmlError(
      'PROVIDER_UNAVAILABLE',
      `${what} to ${this.serverText} failed: ${RCODES[rcode] ?? `rcode ${rcode}`}`,
    );
  }
}
