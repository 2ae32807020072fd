/**
 * A local HTTPS double of Azure Cost Management's Query API, as documented
 * (`POST {scope}/providers/Microsoft.CostManagement/query?api-version=…`): ActualCost and
 * AmortizedCost, Custom timeframe, Daily granularity, grouping by a dimension or a TagKey,
 * a tag filter, and `nextLink` paging with a `$skiptoken`. It answers 429 with the
 * `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after` header when throttling and 403
 * AuthorizationFailed when refusing, as the service does. HTTPS with a throwaway
 * self-signed certificate, because the SDK sends bearer tokens only over TLS.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** One line of cost the double holds. */
export interface AzureCostLine {
  day: string;
  service: string;
  subscriptionId: string;
  tags: Record<string, string>;
  actual: number;
  amortized: number;
  currency: string;
}

export interface AzureCostDouble {
  endpoint: string;
  ca: string;
  lines: AzureCostLine[];
  /** Rows per page before a nextLink. */
  pageSize: number;
  throttleNext(n: number): void;
  deny(on: boolean): void;
  /** Query requests answered (throttled and denied ones included), with their bodies. */
  requests: { url: string; body: QueryBody }[];
  stop(): Promise<void>;
}

interface QueryBody {
  type?: string;
  timeframe?: string;
  timePeriod?: { from?: string; to?: string };
  dataset?: {
    granularity?: string;
    aggregation?: Record<string, { name: string; function: string }>;
    grouping?: { type: string; name: string }[];
    filter?: { tags?: { name: string; operator: string; values: string[] } };
  };
}

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

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<QueryBody> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return (text ? JSON.parse(text) : {}) as QueryBody;
}

export async function startAzureCostDouble(): Promise<AzureCostDouble> {
  const { key, cert } = await selfSigned();
  let throttle = 0;
  let denied = false;
  const double: AzureCostDouble = {
    endpoint: '',
    stop: () => Promise.resolve(),
    ca: cert,
    lines: [],
    pageSize: 7,
    requests: [],
    throttleNext: (n) => void (throttle = n),
    deny: (on) => void (denied = on),
  };

  const answer = (url: URL, body: QueryBody, res: ServerResponse) => {
    const ds = body.dataset ?? {};
    if (!url.searchParams.get('api-version'))
      return send(res, 400, {
        error: {
          code: 'MissingApiVersionParameter',
          message: 'The api-version query parameter is required',
        },
      });
    if (body.type !== 'ActualCost' && body.type !== 'AmortizedCost' && body.type !== 'Usage')
      return send(res, 400, {
        error: { code: 'BadRequest', message: `Invalid query type ${body.type}` },
      });
    if (body.timeframe !== 'Custom' || !body.timePeriod?.from || !body.timePeriod.to)
      return send(res, 400, {
        error: { code: 'BadRequest', message: 'Custom timeframe needs timePeriod' },
      });
    if (ds.granularity !== 'Daily')
      return send(res, 400, { error: { code: 'BadRequest', message: 'only Daily here' } });
    const aggregation = Object.values(ds.aggregation ?? {})[0];
    if (!aggregation || aggregation.function !== 'Sum')
      return send(res, 400, {
        error: { code: 'BadRequest', message: 'aggregation with function Sum required' },
      });
    const from = body.timePeriod.from.slice(0, 10);
    const to = body.timePeriod.to.slice(0, 10);
    const filter = ds.filter?.tags;
    const grouping = ds.grouping ?? [];
    const groups = new Map<string, (string | number)[]>();
    for (const l of double.lines) {
      if (l.day < from || l.day > to) continue;
      if (
        filter &&
        !(filter.operator === 'In' && filter.values.includes(l.tags[filter.name] ?? ''))
      )
        continue;
      const keyCells: string[] = [];
      for (const g of grouping) {
        if (g.type === 'TagKey') keyCells.push(g.name, l.tags[g.name] ?? '');
        else if (g.name === 'ServiceName') keyCells.push(l.service);
        else if (g.name === 'SubscriptionId') keyCells.push(l.subscriptionId);
      }
      const id = [l.day, ...keyCells, l.currency].join('\u0000');
      const cost = body.type === 'AmortizedCost' ? l.amortized : l.actual;
      const row = groups.get(id);
      if (row) row[0] = (row[0] as number) + cost;
      else groups.set(id, [cost, Number(l.day.replace(/-/g, '')), ...keyCells, l.currency]);
    }
    const columns = [
      { name: aggregation.name, type: 'Number' },
      { name: 'UsageDate', type: 'Number' },
      ...grouping.flatMap((g) =>
        g.type === 'TagKey'
          ? [
              { name: 'TagKey', type: 'String' },
              { name: 'TagValue', type: 'String' },
            ]
          : [{ name: g.name, type: 'String' }],
      ),
      { name: 'Currency', type: 'String' },
    ];
    const all = [...groups.values()];
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const rows = all.slice(skip, skip + double.pageSize);
    let nextLink: string | null = null;
    if (skip + double.pageSize < all.length) {
      const next = new URL(url);
      next.searchParams.set('$skiptoken', String(skip + double.pageSize));
      nextLink = next.toString();
    }
    send(res, 200, {
      id: `${url.pathname}/${body.type}`,
      name: 'query',
      type: 'Microsoft.CostManagement/query',
      properties: { nextLink, columns, rows },
    });
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    const url = new URL(`https://${req.headers.host}${req.url ?? '/'}`);
    readBody(req).then(
      (body) => {
        double.requests.push({ url: url.toString(), body });
        if (
          !/^\/.+\/providers\/Microsoft\.CostManagement\/query$/i.test(url.pathname) ||
          req.method !== 'POST'
        )
          return send(res, 404, {
            error: { code: 'NotFound', message: `no route ${req.method} ${url.pathname}` },
          });
        if (!/^Bearer \S+/.test(req.headers.authorization ?? ''))
          return send(res, 401, {
            error: { code: 'AuthenticationFailed', message: 'no bearer token' },
          });
        if (denied)
          return send(res, 403, {
            error: {
              code: 'AuthorizationFailed',
              message:
                "The client does not have authorization to perform action 'Microsoft.CostManagement/query/action'",
            },
          });
        if (throttle > 0) {
          throttle--;
          return send(
            res,
            429,
            { error: { code: '429', message: 'Too many requests. Please retry.' } },
            {
              'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after': '2',
            },
          );
        }
        answer(url, body, res);
      },
      () => send(res, 400, { error: { code: 'InvalidJson', message: 'body is not JSON' } }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  double.endpoint = `https://127.0.0.1:${port}`;
  double.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return double;
}
