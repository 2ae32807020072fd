/**
 * A local double of the Google Cloud DNS v1 REST API (managedZones, rrsets, changes), enough
 * for the official @google-cloud/dns client: bearer auth required, changes applied atomically
 * with Cloud DNS's rules (a deletion must match the record set exactly; an addition must not
 * collide with an existing set).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface RecordSet {
  kind: 'dns#resourceRecordSet';
  name: string;
  type: string;
  ttl: number;
  rrdatas: string[];
}

export interface CloudDnsDouble {
  /** http://127.0.0.1:PORT, for CloudDnsProvider's endpoint. */
  endpoint: string;
  project: string;
  /** Adds a managed zone: name (example-test) and DNS name (example.test.). */
  addZone(name: string, dnsName: string): void;
  /** The record sets of a zone, as the API stores them. */
  records(zone: string): RecordSet[];
  /** Requests seen, "METHOD path". */
  requests: string[];
  /**
   * Makes the next N requests fail: 503 backendError by default (an unreachable API), or the
   * status and reason given, with Google's JSON error body.
   */
  failNext(n: number, status?: number, reason?: string): void;
  stop(): Promise<void>;
}

function error(res: ServerResponse, code: number, reason: string, message: string) {
  const body = JSON.stringify({ error: { code, message, errors: [{ reason, message }] } });
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(body);
}

function send(res: ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? JSON.parse(text) : {};
}

/**
 * Starts the double. With `token`, only that bearer token is accepted (Google answers any
 * other with 401 authError, as for an expired or revoked token).
 */
export async function startCloudDnsDouble(
  project = 'mcml-test',
  options: { token?: string } = {},
): Promise<CloudDnsDouble> {
  const zones = new Map<string, { name: string; dnsName: string; sets: RecordSet[] }>();
  const requests: string[] = [];
  let failures = 0;
  let failure = { status: 503, reason: 'backendError' };
  let changeId = 0;
  const same = (a: RecordSet, b: Partial<RecordSet>) =>
    a.name === b.name &&
    a.type === b.type &&
    a.ttl === b.ttl &&
    JSON.stringify([...a.rrdatas].sort()) === JSON.stringify([...(b.rrdatas ?? [])].sort());

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}`);
    if (failures > 0) {
      failures--;
      return error(res, failure.status, failure.reason, `injected ${failure.reason}`);
    }
    const bearer = /^Bearer (\S+)/.exec(req.headers.authorization ?? '');
    if (!bearer) {
      return error(res, 401, 'required', 'Request is missing required authentication credential.');
    }
    if (options.token !== undefined && bearer[1] !== options.token) {
      return error(res, 401, 'authError', 'Invalid Credentials');
    }
    const m =
      /^\/dns\/v1\/projects\/([^/]+)\/managedZones(?:\/([^/]+)(?:\/(rrsets|changes))?)?$/.exec(
        url.pathname,
      );
    if (!m) return error(res, 404, 'notFound', `no such path ${url.pathname}`);
    if (m[1] !== project) return error(res, 403, 'forbidden', `no access to project ${m[1]}`);
    const zoneName = m[2];
    if (zoneName === undefined) {
      const dnsName = url.searchParams.get('dnsName');
      const list = [...zones.values()]
        .filter((z) => !dnsName || z.dnsName === dnsName)
        .map((z) => ({ kind: 'dns#managedZone', name: z.name, dnsName: z.dnsName, id: z.name }));
      return send(res, { kind: 'dns#managedZonesListResponse', managedZones: list });
    }
    const zone = zones.get(zoneName);
    if (!zone) {
      return error(
        res,
        404,
        'notFound',
        `The 'parameters.managedZone' resource named '${zoneName}' does not exist.`,
      );
    }
    if (m[3] === undefined && req.method === 'GET') {
      return send(res, { kind: 'dns#managedZone', name: zone.name, dnsName: zone.dnsName });
    }
    if (m[3] === 'rrsets' && req.method === 'GET') {
      const name = url.searchParams.get('name');
      const type = url.searchParams.get('type');
      if (type && !name) return error(res, 400, 'invalid', 'type requires name');
      const rrsets = zone.sets.filter(
        (s) => (!name || s.name === name) && (!type || s.type === type),
      );
      return send(res, { kind: 'dns#resourceRecordSetsListResponse', rrsets });
    }
    if (m[3] === 'changes' && req.method === 'POST') {
      readJson(req)
        .then((body) => {
          const { additions = [], deletions = [] } = body as {
            additions?: Partial<RecordSet>[];
            deletions?: Partial<RecordSet>[];
          };
          const next = [...zone.sets];
          for (const d of deletions) {
            const i = next.findIndex((s) => same(s, d));
            if (i < 0) {
              return error(
                res,
                412,
                'conditionNotMet',
                `The resource 'entity.change.deletions[${d.name}][${d.type}]' does not match`,
              );
            }
            next.splice(i, 1);
          }
          for (const a of additions) {
            if (!a.name?.endsWith(zone.dnsName) || !a.type || !a.rrdatas?.length) {
              return error(res, 400, 'invalid', `invalid record set ${a.name}`);
            }
            if (next.some((s) => s.name === a.name && s.type === a.type)) {
              return error(
                res,
                409,
                'alreadyExists',
                `The resource 'entity.change.additions[${a.name}][${a.type}]' already exists`,
              );
            }
            next.push({
              kind: 'dns#resourceRecordSet',
              name: a.name,
              type: a.type,
              ttl: a.ttl ?? 300,
              rrdatas: a.rrdatas,
            });
          }
          zone.sets = next;
          send(res, {
            kind: 'dns#change',
            id: String(++changeId),
            status: 'done',
            additions,
            deletions,
          });
        })
        .catch(() => error(res, 400, 'parseError', 'bad JSON'));
      return;
    }
    return error(res, 405, 'methodNotAllowed', `${req.method} not allowed`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    project,
    addZone: (name, dnsName) => zones.set(name, { name, dnsName, sets: [] }),
    records: (zone) => zones.get(zone)?.sets ?? [],
    requests,
    failNext: (n, status = 503, reason = 'backendError') => {
      failures = n;
      failure = { status, reason };
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
