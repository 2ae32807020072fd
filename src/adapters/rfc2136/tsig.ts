/**
 * TSIG (RFC 8945): HMAC signatures on DNS messages with a shared secret. No maintained npm
 * package implements it for Node 20, so this is the RFC's algorithm on node:crypto.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1' | 'hmac-md5';

export interface TsigKey {
  /** Key name as the server knows it, e.g. "mcml-key". */
  name: string;
  algorithm: TsigAlgorithm;
  /** The decoded secret. */
  secret: Buffer;
}

const ALGORITHM_NAMES: Record<TsigAlgorithm, string> = {
  'hmac-sha256': 'hmac-sha256',
  'hmac-sha512': 'hmac-sha512',
  'hmac-sha1': 'hmac-sha1',
  'hmac-md5': 'hmac-md5.sig-alg.reg.int',
};
const HASHES: Record<TsigAlgorithm, string> = {
  'hmac-sha256': 'sha256',
  'hmac-sha512': 'sha512',
  'hmac-sha1': 'sha1',
  'hmac-md5': 'md5',
};

export const TSIG_TYPE = 250;
const CLASS_ANY = 255;
export const FUDGE_SECONDS = 300;

/** TSIG error codes (RFC 8945 §5.3.2), as names. */
export const TSIG_ERRORS: Record<number, string> = {
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

/** A domain name in canonical (lower-case, uncompressed) wire format. */
export function wireName(name: string): Buffer {
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label.toLowerCase(), 'utf8');
    if (bytes.length > 63) throw new Error(`DNS label too long: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function uint48(value: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(value, 0, 6);
  return b;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value, 0);
  return b;
}

function variables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  return Buffer.concat([
    wireName(key.name),
    u16(CLASS_ANY),
    Buffer.alloc(4), // TTL 0
    wireName(ALGORITHM_NAMES[key.algorithm]),
    uint48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, ...parts: Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Signs a complete DNS message; returns the message with the TSIG record and the MAC. */
export function signMessage(
  message: Buffer,
  key: TsigKey,
  nowSeconds: number,
): { signed: Buffer; mac: Buffer } {
  const mac = hmac(key, message, variables(key, nowSeconds, FUDGE_SECONDS, 0, Buffer.alloc(0)));
  const id = message.readUInt16BE(0);
  const rdata = Buffer.concat([
    wireName(ALGORITHM_NAMES[key.algorithm]),
    uint48(nowSeconds),
    u16(FUDGE_SECONDS),
    u16(mac.length),
    mac,
    u16(id),
    u16(0),
    u16(0),
  ]);
  const rr = Buffer.concat([
    wireName(key.name),
    u16(TSIG_TYPE),
    u16(CLASS_ANY),
    Buffer.alloc(4),
    u16(rdata.length),
    rdata,
  ]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10); // ARCOUNT
  return { signed, mac };
}

/** The TSIG record of a response, parsed from its rdata. */
export interface TsigRecord {
  /** Offset of the TSIG RR in the message. */
  offset: number;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** Parses TSIG rdata starting at `offset` (after the RR header). */
export function parseTsigRdata(buf: Buffer, rrOffset: number, rdataOffset: number): TsigRecord {
  let o = rdataOffset;
  const labels: string[] = [];
  for (;;) {
    const len = buf[o]!;
    o++;
    if (len === 0) break;
    labels.push(buf.subarray(o, o + len).toString('utf8'));
    o += len;
  }
  const timeSigned = buf.readUIntBE(o, 6);
  const fudge = buf.readUInt16BE(o + 6);
  const macSize = buf.readUInt16BE(o + 8);
  o += 10;
  const mac = buf.subarray(o, o + macSize);
  o += macSize;
  const originalId = buf.readUInt16BE(o);
  const error = buf.readUInt16BE(o + 2);
  const otherLen = buf.readUInt16BE(o + 4);
  const other = buf.subarray(o + 6, o + 6 + otherLen);
  return {
    offset: rrOffset,
    algorithm: labels.join('.'),
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    other,
  };
}

/** Verifies a signed response to a request whose MAC was `requestMac`. */
export function verifyResponse(
  response: Buffer,
  tsig: TsigRecord,
  key: TsigKey,
  requestMac: Buffer,
): boolean {
  const unsigned = Buffer.from(response.subarray(0, tsig.offset));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(
    key,
    u16(requestMac.length),
    requestMac,
    unsigned,
    variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other),
  );
  return expected.length === tsig.mac.length && timingSafeEqual(expected, tsig.mac);
}
