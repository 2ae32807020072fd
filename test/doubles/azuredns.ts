/**
 * A local double of the Azure DNS Resource Manager REST API (2018-05-01: dnsZones and their
 * A/AAAA/CNAME record sets) for the official @azure/arm-dns client. It serves HTTPS with a
 * throwaway self-signed certificate, because the SDK refuses bearer tokens over plain HTTP;
 * pass `ca` to the client to trust it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

interface StoredSet {
  type: 'A' | 'AAAA' | 'CNAME';
  name: string;
  properties: Record<string, unknown>;
  etag: string;
}

export interface AzureDnsDouble {
  /** https://127.0.0.1:PORT */
  endpoint: string;
  /** PEM of the self-signed certificate, to trust. */
  ca: string;
  subscriptionId: string;
  addZone(resourceGroup: string, zone: string): void;
  /** Properties of a stored record set, as the API keeps them. */
  recordSet(
    resourceGroup: string,
    zone: string,
    relative: string,
    type: string,
  ): StoredSet | undefined;
  requests: string[];
  /** Makes the next N requests fail with `status` and an ARM error body with `code`. */
  failNext(n: number, status: number, code: string): void;
  stop(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with openssl in a temp dir. */
async function selfSigned(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcml-tls-'));
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        throw new Error('openssl is not installed: apt-get install -y openssl');
      throw e;
    });
    return {
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
      cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function send(res: ServerResponse, status: number, body?: unknown) {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function armError(res: ServerResponse, status: number, code: string, message: string) {
  send(res, status, { error: { code, message } });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : {};
}

/**
 * Starts the double. With `token`, only that bearer token is accepted (ARM answers any other
 * with 401 InvalidAuthenticationToken); `readOnlyToken` may read but not write (403
 * AuthorizationFailed, as for an identity with the Reader role).
 */
export async function startAzureDnsDouble(
  subscriptionId = '00000000-0000-0000-0000-000000000001',
  options: { token?: string; readOnlyToken?: string } = {},
): Promise<AzureDnsDouble> {
  const { key, cert } = await selfSigned();
  const zones = new Map<string, Map<string, StoredSet>>();
  const zoneKey = (rg: string, zone: string) => `${rg.toLowerCase()}/${zone.toLowerCase()}`;
  const requests: string[] = [];
  let etag = 0;
  let fault: { times: number; status: number; code: string } | undefined;

  const server = createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    requests.push(`${req.method} ${url.pathname}`);
    if (fault && fault.times > 0) {
      fault.times--;
      req.resume();
      if (fault.status === 429) res.setHeader('retry-after', '0');
      return armError(res, fault.status, fault.code, `injected ${fault.code}`);
    }
    const bearer = /^Bearer (\S+)/.exec(req.headers.authorization ?? '');
    if (!bearer) {
      return armError(
        res,
        401,
        'AuthenticationFailed',
        'Authentication failed. The Authorization header is missing.',
      );
    }
    const token = bearer[1];
    if (options.token !== undefined && token !== options.token && token !== options.readOnlyToken) {
      return armError(res, 401, 'InvalidAuthenticationToken', 'The access token is invalid.');
    }
    if (token === options.readOnlyToken && req.method !== 'GET') {
      return armError(
        res,
        403,
        'AuthorizationFailed',
        `The client does not have authorization to perform action 'Microsoft.Network/dnszones/write'.`,
      );
    }
    if (url.searchParams.get('api-version') !== '2018-05-01') {
      return armError(res, 400, 'InvalidApiVersionParameter', 'unsupported api-version');
    }
    const m =
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/dnsZones\/([^/]+)(?:\/(A|AAAA|CNAME)\/([^/]+))?$/i.exec(
        url.pathname,
      );
    if (!m) return armError(res, 404, 'NotFound', `no route ${url.pathname}`);
    const [, sub, rg, zone, type, relative] = m as unknown as [
      string,
      string,
      string,
      string,
      StoredSet['type'] | undefined,
      string | undefined,
    ];
    if (sub !== subscriptionId)
      return armError(res, 404, 'SubscriptionNotFound', `subscription ${sub} not found`);
    const sets = zones.get(zoneKey(rg, zone));
    const zoneId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/dnszones/${zone}`;
    if (!sets) {
      return armError(
        res,
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Network/dnszones/${zone}' under resource group '${rg}' was not found.`,
      );
    }
    if (!type || !relative) {
      if (req.method !== 'GET')
        return armError(res, 405, 'MethodNotAllowed', 'zones are read-only here');
      return send(res, 200, {
        id: zoneId,
        name: zone,
        type: 'Microsoft.Network/dnszones',
        location: 'global',
        properties: { numberOfRecordSets: sets.size },
      });
    }
    const k = `${type}/${decodeURIComponent(relative).toLowerCase()}`;
    const view = (s: StoredSet) => ({
      id: `${zoneId}/${s.type}/${s.name}`,
      name: s.name,
      type: `Microsoft.Network/dnszones/${s.type}`,
      etag: s.etag,
      properties: { ...s.properties, fqdn: `${s.name === '@' ? '' : s.name + '.'}${zone}.` },
    });
    if (req.method === 'GET') {
      const s = sets.get(k);
      if (!s)
        return armError(
          res,
          404,
          'NotFound',
          `The resource record '${relative}' does not exist in resource group '${rg}' of subscription '${sub}'.`,
        );
      return send(res, 200, view(s));
    }
    if (req.method === 'DELETE') {
      return send(res, sets.delete(k) ? 200 : 204);
    }
    if (req.method === 'PUT') {
      readJson(req)
        .then((body) => {
          const props = (body as { properties?: Record<string, unknown> }).properties ?? {};
          const field = { A: 'ARecords', AAAA: 'AAAARecords', CNAME: 'CNAMERecord' }[type];
          if (props[field] === undefined || typeof props.TTL !== 'number') {
            return armError(res, 400, 'BadRequest', `record set needs TTL and ${field}`);
          }
          const existed = sets.has(k);
          const stored: StoredSet = {
            type,
            name: decodeURIComponent(relative),
            properties: { TTL: props.TTL, [field]: props[field] },
            etag: String(++etag),
          };
          sets.set(k, stored);
          send(res, existed ? 200 : 201, view(stored));
        })
        .catch(() => armError(res, 400, 'InvalidJson', 'bad JSON'));
      return;
    }
    return armError(res, 405, 'MethodNotAllowed', `${req.method} not allowed`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}`,
    ca: cert,
    subscriptionId,
    addZone: (rg, zone) => zones.set(zoneKey(rg, zone), new Map()),
    recordSet: (rg, zone, relative, type) =>
      zones.get(zoneKey(rg, zone))?.get(`${type}/${relative.toLowerCase()}`),
    requests,
    failNext: (times, status, code) => (fault = { times, status, code }),
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
