/**
 * Whose fault a failed proxied attempt is. Passive ejection listens only to what the target
 * did wrong (it refused or dropped the connection, timed out, spoke no HTTP); what the client
 * can provoke (headers undici will not send, a body shorter than its Content-Length, a client
 * that hangs up) must never count against a target, or any client could eject every target.
 */

/** The target could not be reached: nothing was sent, so any request may go elsewhere. */
const CONNECT_FAULTS = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

/** The target broke the exchange once connected. */
const EXCHANGE_FAULTS = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
]);

/** The request itself cannot be forwarded as it is: every target would refuse it alike. */
const REQUEST_FAULTS = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/**
 * - `connect`: the target was not reached (counts against it; always safe to try elsewhere);
 * - `target`: the target broke the exchange (counts against it);
 * - `request`: the client's request cannot be forwarded (never counts; answer 400, no retry);
 * - `unknown`: anything else (never counts; a retry-safe request may go elsewhere).
 */
export type UpstreamFault = 'connect' | 'target' | 'request' | 'unknown';

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Classifies an error undici reported for one proxied attempt. */
export function classifyUpstreamError(error: unknown): UpstreamFault {
  const code = codeOf(error);
  const name = (error as { name?: unknown } | undefined)?.name;
  if (code !== undefined && REQUEST_FAULTS.has(code)) return 'request';
  if (code !== undefined && CONNECT_FAULTS.has(code)) return 'connect';
  if (code !== undefined && (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))) {
    return 'connect';
  }
  if (code !== undefined && EXCHANGE_FAULTS.has(code)) return 'target';
  // The upstream answered bytes that are not HTTP.
  if (name === 'HTTPParserError' || (code !== undefined && code.startsWith('HPE_')))
    return 'target';
  return 'unknown';
}

/** Whether an upstream status is the target saying it cannot serve (a gateway status). */
export function isGatewayStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}
