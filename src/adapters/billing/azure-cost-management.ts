/**
 * Azure Cost Management Query (`POST {scope}/providers/Microsoft.CostManagement/query`) as a
 * BillingSource: two daily queries, ActualCost (BilledCost) and AmortizedCost
 * (EffectiveCost), grouped by service name and by the `mcml-target` tag (or the
 * subscription), following `nextLink` pages.
 */
import type { CostManagementClient, QueryDefinition, QueryResult } from '@azure/arm-costmanagement';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { dayStartMs, nextDay } from '../../core/cost/range.js';
import type { ChargeRow } from '../../core/cost/types.js';
import type { BillingPullRequest, BillingSource } from '../../ports/billing-source.js';
import { denied, retryAfterMs, unauthenticated, unavailable } from './errors.js';

export interface AzureCostManagementOptions {
  client: CostManagementClient;
  /** e.g. /subscriptions/<id>, or a billing account / resource group scope. */
  scope: string;
}

type CostType = 'ActualCost' | 'AmortizedCost';

interface Cell {
  day: string;
  service: string;
  group: string;
  currency: string;
  cost: number;
}

export class AzureCostManagementSource implements BillingSource {
  readonly cloud = 'azure' as const;
  readonly scope: string;
  private readonly client: CostManagementClient;
  private readonly azureScope: string;

  constructor(options: AzureCostManagementOptions) {
    this.client = options.client;
    // The SDK's URL template is "/{scope}/providers/…": the scope goes without its slashes.
    this.azureScope = options.scope.replace(/^\/+|\/+$/g, '');
    this.scope = `azure:/${this.azureScope}`;
  }

  async pull(request: BillingPullRequest): Promise<ChargeRow[]> {
    // One after the other: Cost Management rate-limits per scope.
    const actual = await this.query('ActualCost', request);
    const amortized = await this.query('AmortizedCost', request);
    return this.merge(actual, amortized, request);
  }

  private definition(type: CostType, request: BillingPullRequest): QueryDefinition {
    const byTags = request.attribution === 'tags';
    return {
      type,
      timeframe: 'Custom',
      timePeriod: {
        from: new Date(dayStartMs(request.range.from)),
        to: new Date(dayStartMs(nextDay(request.range.to)) - 1000),
      },
      dataset: {
        granularity: 'Daily',
        aggregation: { totalCost: { name: 'Cost', function: 'Sum' } },
        grouping: [
          { type: 'Dimension', name: 'ServiceName' },
          byTags
            ? { type: 'TagKey', name: 'mcml-target' }
            : { type: 'Dimension', name: 'SubscriptionId' },
        ],
        ...(byTags
          ? {
              filter: { tags: { name: 'mcml-service', operator: 'In', values: [request.service] } },
            }
          : {}),
      },
    };
  }

  private async query(type: CostType, request: BillingPullRequest): Promise<Cell[]> {
    const definition = this.definition(type, request);
    const cells: Cell[] = [];
    let page: QueryResult = await this.call(() =>
      this.client.query.usage(this.azureScope, definition),
    );
    cells.push(...cellsOf(page));
    while (page.nextLink) {
      const next = page.nextLink;
      page = await this.call(() => this.nextPage(next, definition));
      cells.push(...cellsOf(page));
    }
    return cells;
  }

  /** `nextLink` is the same POST with a skip token: sent through the client's pipeline. */
  private async nextPage(url: string, definition: QueryDefinition): Promise<QueryResult> {
    const body = JSON.stringify({
      ...definition,
      timePeriod: definition.timePeriod && {
        from: definition.timePeriod.from.toISOString(),
        to: definition.timePeriod.to.toISOString(),
      },
    });
    const response = await this.client.sendRequest(
      createPipelineRequest({
        url,
        method: 'POST',
        body,
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
      }),
    );
    if (response.status >= 400) {
      throw Object.assign(new Error(response.bodyAsText ?? `HTTP ${response.status}`), {
        statusCode: response.status,
        response: { headers: response.headers },
      });
    }
    const parsed = JSON.parse(response.bodyAsText ?? '{}') as {
      properties?: { columns?: QueryResult['columns']; rows?: unknown[][]; nextLink?: string };
    };
    const p = parsed.properties ?? {};
    return {
      ...(p.columns ? { columns: p.columns } : {}),
      ...(p.rows ? { rows: p.rows } : {}),
      ...(p.nextLink ? { nextLink: p.nextLink } : {}),
    };
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const e = error as {
        statusCode?: number;
        message: string;
        name?: string;
        response?: { headers?: { get(name: string): string | undefined } };
      };
      const what = 'Cost Management Query';
      const headers = e.response?.headers;
      const wait =
        retryAfterMs(headers?.get('x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after')) ??
        retryAfterMs(headers?.get('retry-after'));
      if (e.statusCode === 403) throw denied('azure', what, e.message);
      if (
        e.statusCode === 401 ||
        e.name === 'CredentialUnavailableError' ||
        e.name === 'AuthenticationError'
      )
        throw unauthenticated('azure', e.message);
      throw unavailable(
        'azure',
        what,
        e.statusCode ? `HTTP ${e.statusCode}: ${e.message}` : e.message,
        wait,
      );
    }
  }

  private merge(actual: Cell[], amortized: Cell[], request: BillingPullRequest): ChargeRow[] {
    const byTags = request.attribution === 'tags';
    const rows = new Map<string, ChargeRow>();
    const add = (cell: Cell, field: 'billedCost' | 'effectiveCost') => {
      const id = `${cell.day}\u0000${cell.service}\u0000${cell.group}\u0000${cell.currency}`;
      let row = rows.get(id);
      if (!row) {
        const tags: Record<string, string> = {};
        if (byTags) {
          tags['mcml-service'] = request.service;
          if (cell.group) tags['mcml-target'] = cell.group;
        }
        row = {
          cloud: 'azure',
          providerName: 'Microsoft',
          chargePeriodStart: `${cell.day}T00:00:00Z`,
          chargePeriodEnd: `${nextDay(cell.day)}T00:00:00Z`,
          chargeCategory: 'Usage',
          billedCost: 0,
          effectiveCost: 0,
          currency: cell.currency,
          ...(cell.service ? { serviceName: cell.service } : {}),
          ...(!byTags && cell.group ? { subAccountId: cell.group } : {}),
          ...(byTags ? { tags } : {}),
        };
        rows.set(id, row);
      }
      row[field] += cell.cost;
    };
    for (const c of actual) add(c, 'billedCost');
    for (const c of amortized) add(c, 'effectiveCost');
    return [...rows.values()];
  }
}

/** Reads Query rows by column name (the API returns columns in the order it likes). */
function cellsOf(result: QueryResult): Cell[] {
  const names = (result.columns ?? []).map((c) => (c.name ?? '').toLowerCase());
  const index = (...candidates: string[]) => names.findIndex((n) => candidates.includes(n));
  const cost = index('cost', 'pretaxcost', 'totalcost', 'costusd');
  const date = index('usagedate');
  const service = index('servicename');
  const tagValue = index('tagvalue');
  const subscription = index('subscriptionid');
  const currency = index('currency', 'billingcurrency');
  const text = (v: unknown, fallback = ''): string =>
    typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback;
  return (result.rows ?? []).map((row: unknown[]) => {
    const raw = text(row[date]);
    const day = /^\d{8}$/.test(raw)
      ? `${raw.slice(0, 4)}-${raw.slice(4, 6)}-${raw.slice(6, 8)}`
      : raw.slice(0, 10);
    return {
      day,
      service: service >= 0 ? text(row[service]) : '',
      group: text(tagValue >= 0 ? row[tagValue] : subscription >= 0 ? row[subscription] : ''),
      currency: currency >= 0 ? text(row[currency], 'USD') : 'USD',
      cost: Number(row[cost] ?? 0),
    };
  });
}
