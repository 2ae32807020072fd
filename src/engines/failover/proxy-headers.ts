/** Request and response headers across the front door: what is forwarded, dropped and added. */
import type { IncomingMessage } from 'node:http';

// RFC 9110 §7.6.1 hop-by-hop fields, plus proxy-* ones; never forwarded either way. `Expect`
// is answered by the front door itself (Node sends 100 Continue), and undici refuses to send
// it: forwarded, it would fail every attempt on every target.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
  'expect',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const part of text.split(',')) {
    const token = part.trim().toLowerCase();
    if (token && token !== 'keep-alive' && token !== 'close') tokens.add(token);
  }
  return tokens.size > 0 ? tokens : undefined;
}

/** The request's headers for the upstream, as undici's flat [name, value, …] list. */
export function forwardHeaders(
  req: IncomingMessage,
  upstreamHost: string,
  bodyLength: number | undefined,
): string[] {
  const listed = connectionTokens(req.headers.connection);
  const raw = req.rawHeaders;
  const out: string[] = [];
  let forwardedHost = false;
  let forwardedProto = false;
  let length = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const key = name.toLowerCase();
    if (HOP_BY_HOP.has(key) || listed?.has(key) || key === 'x-forwarded-for') continue;
    if (key === 'content-length') {
      // Node has checked that repeated lengths agree; undici takes one.
      if (bodyLength !== undefined || length) continue;
      length = true;
    }
    if (key === 'x-forwarded-host') forwardedHost = true;
    else if (key === 'x-forwarded-proto') forwardedProto = true;
    out.push(name, raw[i + 1]!);
  }
  if (bodyLength !== undefined && (bodyLength > 0 || req.method === 'POST')) {
    out.push('content-length', String(bodyLength));
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out.push('x-forwarded-for', prior ? `${String(prior)}, ${client}` : client);
  if (!forwardedHost) out.push('x-forwarded-host', req.headers.host ?? '');
  if (!forwardedProto) out.push('x-forwarded-proto', 'http');
  out.push('host', upstreamHost);
  return out;
}

/** The upstream's raw response headers for the client, hop-by-hop ones dropped. */
export function responseHeaders(raw: Buffer[], target: string): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const key = name.toLowerCase();
    if (key === 'connection') listed = connectionTokens(raw[i + 1]!.toString('latin1'));
    if (HOP_BY_HOP.has(key)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (listed) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (listed.has(out[i]!.toLowerCase())) out.splice(i, 2);
    }
  }
  out.push('x-mcml-target', target);
  return out;
}

/**
 * The path to send upstream: the origin-form target as received, or the path of an
 * absolute-form one (`GET http://host/x`); undefined when it is neither (`*`, garbage).
 */
export function requestPath(url: string): string | undefined {
  if (url.startsWith('/')) return url;
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.pathname + parsed.search;
  } catch {
    return undefined;
  }
}
