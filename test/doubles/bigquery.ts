/**
 * A local double of the BigQuery REST API's query path, good enough for
 * `@google-cloud/bigquery` 8: `jobs.query` (POST /bigquery/v2/projects/P/queries) and
 * `jobs.getQueryResults` (GET …/queries/JOB) with page tokens, named query parameters, and
 * the documented error shapes (403 accessDenied, 403 rateLimitExceeded). It does not run SQL:
 * it checks that the query reads the configured FOCUS export table with the range and tag
 * filters as parameters, and answers the daily sums of the lines it holds.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One result line: a day, a service and a target (as the query's GROUP BY yields them). */
export interface BigQueryCostLine {
  day: string;
  service: string;
  subAccountId: string;
  billingAccountId: string;
  currency: string;
  category: string;
  /** The mcml-service label. */
  serviceTag: string;
  target: string | null;
  billed: number;
  effective: number;
}

export interface BigQueryDouble {
  endpoint: string;
  project: string;
  /** `project.dataset.table` the query must read. */
  table: string;
  lines: BigQueryCostLine[];
  pageSize: number;
  throttleNext(n: number): void;
  deny(on: boolean): void;
  /** Requests answered, by "METHOD kind" order (query, results). */
  requests: { kind: 'query' | 'results'; query?: string; params?: Record<string, string> }[];
  stop(): Promise<void>;
}

const FIELDS = [
  { name: 'day', type: 'DATE' },
  { name: 'service_name', type: 'STRING' },
  { name: 'sub_account_id', type: 'STRING' },
  { name: 'billing_account_id', type: 'STRING' },
  { name: 'currency', type: 'STRING' },
  { name: 'charge_category', type: 'STRING' },
  { name: 'target', type: 'STRING' },
  { name: 'billed', type: 'FLOAT' },
  { name: 'effective', type: 'FLOAT' },
];

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

function apiError(res: ServerResponse, status: number, reason: string, message: string) {
  send(res, status, {
    error: {
      code: status,
      message,
      errors: [{ reason, message, domain: 'global' }],
      status: reason,
    },
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startBigQueryDouble(
  table = 'acme-billing.gcp_billing_immutable_010101_F0FFF0_61C528_us.gcp_billing_export_focus_010101_F0FFF0_61C528',
): Promise<BigQueryDouble> {
  let throttle = 0;
  let denied = false;
  const jobs = new Map<string, (string | number | null)[][]>();
  const double: BigQueryDouble = {
    endpoint: '',
    project: table.split('.')[0]!,
    table,
    lines: [],
    pageSize: 8,
    requests: [],
    throttleNext: (n) => void (throttle = n),
    deny: (on) => void (denied = on),
    stop: () => Promise.resolve(),
  };

  const page = (jobId: string, token: number, kind: string) => {
    const rows = jobs.get(jobId) ?? [];
    const slice = rows.slice(token, token + double.pageSize);
    return {
      kind,
      jobReference: { projectId: double.project, jobId, location: 'US' },
      jobComplete: true,
      schema: { fields: FIELDS },
      totalRows: String(rows.length),
      rows: slice.map((r) => ({ f: r.map((v) => ({ v: v === null ? null : String(v) })) })),
      ...(token + double.pageSize < rows.length
        ? { pageToken: String(token + double.pageSize) }
        : {}),
    };
  };

  const runQuery = (body: Record<string, unknown>, res: ServerResponse) => {
    const query = typeof body.query === 'string' ? body.query : '';
    const params: Record<string, string> = {};
    for (const p of (body.queryParameters ?? []) as {
      name: string;
      parameterValue: { value: string };
    }[])
      params[p.name] = p.parameterValue.value;
    double.requests.push({ kind: 'query', query, params });
    if (body.useLegacySql !== false)
      return apiError(res, 400, 'invalidQuery', 'legacy SQL is not supported here');
    if (!query.includes(`\`${double.table}\``))
      return apiError(
        res,
        404,
        'notFound',
        `Not found: Table ${query.match(/`([^`]+)`/)?.[1] ?? '?'}`,
      );
    if (!/ChargePeriodStart >= TIMESTAMP\(@from\)/.test(query) || !params.from || !params.until)
      return apiError(
        res,
        400,
        'invalidQuery',
        'the query must filter ChargePeriodStart by @from and @until',
      );
    const rows = double.lines
      .filter((l) => l.day >= params.from! && l.day < params.until!)
      .filter((l) => params.service === undefined || l.serviceTag === params.service)
      .map((l) => [
        l.day,
        l.service,
        l.subAccountId,
        l.billingAccountId,
        l.currency,
        l.category,
        params.service === undefined ? null : l.target,
        l.billed,
        l.effective,
      ]);
    const jobId = `job_${randomUUID().replace(/-/g, '')}`;
    jobs.set(jobId, rows);
    send(res, 200, page(jobId, 0, 'bigquery#queryResponse'));
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    readJson(req).then(
      (body) => {
        if (!/^Bearer \S+/.test(req.headers.authorization ?? ''))
          return apiError(
            res,
            401,
            'authError',
            'Request is missing required authentication credential.',
          );
        if (denied)
          return apiError(
            res,
            403,
            'accessDenied',
            `Access Denied: Table ${double.table}: User does not have permission to query table ${double.table}.`,
          );
        if (throttle > 0) {
          throttle--;
          return apiError(
            res,
            403,
            'rateLimitExceeded',
            'Exceeded rate limits: too many concurrent queries for this project_and_region.',
          );
        }
        const query = new RegExp(`^/bigquery/v2/projects/${double.project}/queries$`);
        const results = new RegExp(`^/bigquery/v2/projects/${double.project}/queries/([^/]+)$`);
        if (req.method === 'POST' && query.test(path)) return runQuery(body, res);
        const m = results.exec(path);
        if (req.method === 'GET' && m) {
          double.requests.push({ kind: 'results' });
          if (!jobs.has(m[1]!)) return apiError(res, 404, 'notFound', `Not found: Job ${m[1]}`);
          return send(
            res,
            200,
            page(
              m[1]!,
              Number(url.searchParams.get('pageToken') ?? 0),
              'bigquery#getQueryResultsResponse',
            ),
          );
        }
        apiError(res, 404, 'notFound', `no route ${req.method} ${path}`);
      },
      () => apiError(res, 400, 'parseError', 'body is not JSON'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  double.endpoint = `http://127.0.0.1:${port}`;
  double.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return double;
}
