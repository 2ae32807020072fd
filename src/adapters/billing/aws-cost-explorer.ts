/**
 * AWS Cost Explorer (GetCostAndUsage) as a BillingSource: daily UnblendedCost (BilledCost)
 * and AmortizedCost (EffectiveCost), grouped by service and by the `mcml-target` tag (or the
 * linked account), filtered to the `mcml-service` tag when attributing by tags.
 */
import {
  GetCostAndUsageCommand,
  type CostExplorerClient,
  type GetCostAndUsageCommandInput,
  type ResultByTime,
} from '@aws-sdk/client-cost-explorer';
import { nextDay } from '../../core/cost/range.js';
import type { ChargeRow } from '../../core/cost/types.js';
import type { BillingPullRequest, BillingSource } from '../../ports/billing-source.js';
import { denied, unauthenticated, unavailable } from './errors.js';

export interface AwsCostExplorerOptions {
  client: CostExplorerClient;
}

const DENIED = new Set(['AccessDeniedException', 'UnauthorizedOperation', 'AccessDenied']);
const AUTH = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'CredentialsProviderError',
  'InvalidSignatureException',
]);
const THROTTLED = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'DataUnavailableException',
]);

export class AwsCostExplorerSource implements BillingSource {
  readonly cloud = 'aws' as const;
  readonly scope = 'aws:cost-explorer';
  private readonly client: CostExplorerClient;

  constructor(options: AwsCostExplorerOptions) {
    this.client = options.client;
  }

  async pull(request: BillingPullRequest): Promise<ChargeRow[]> {
    const input = this.input(request);
    const rows: ChargeRow[] = [];
    let token: string | undefined;
    do {
      const page = await this.send({ ...input, ...(token ? { NextPageToken: token } : {}) });
      for (const result of page.ResultsByTime ?? []) {
        // Only the asked days, whatever a (test) server sends.
        const day = result.TimePeriod?.Start ?? '';
        if (day < request.range.from || day > request.range.to) continue;
        rows.push(...this.rowsOf(result, request));
      }
      token = page.NextPageToken;
    } while (token);
    return rows;
  }

  private input(request: BillingPullRequest): GetCostAndUsageCommandInput {
    const second =
      request.attribution === 'tags'
        ? { Type: 'TAG' as const, Key: 'mcml-target' }
        : { Type: 'DIMENSION' as const, Key: 'LINKED_ACCOUNT' };
    return {
      TimePeriod: { Start: request.range.from, End: nextDay(request.range.to) },
      Granularity: 'DAILY',
      Metrics: ['UnblendedCost', 'AmortizedCost'],
      GroupBy: [{ Type: 'DIMENSION', Key: 'SERVICE' }, second],
      ...(request.attribution === 'tags'
        ? {
            Filter: {
              Tags: { Key: 'mcml-service', Values: [request.service], MatchOptions: ['EQUALS'] },
            },
          }
        : {}),
    };
  }

  private async send(input: GetCostAndUsageCommandInput) {
    try {
      return await this.client.send(new GetCostAndUsageCommand(input));
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      const message = (error as Error).message;
      if (DENIED.has(name)) throw denied('aws', 'Cost Explorer GetCostAndUsage', message);
      if (AUTH.has(name)) throw unauthenticated('aws', message);
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      if (THROTTLED.has(name) || (status !== undefined && status >= 500))
        throw unavailable('aws', 'Cost Explorer GetCostAndUsage', `${name}: ${message}`);
      throw unavailable('aws', 'Cost Explorer GetCostAndUsage', `${name || 'error'}: ${message}`);
    }
  }

  private rowsOf(result: ResultByTime, request: BillingPullRequest): ChargeRow[] {
    const day = result.TimePeriod?.Start;
    if (!day) return [];
    const base = {
      cloud: 'aws',
      providerName: 'AWS',
      chargePeriodStart: `${day}T00:00:00Z`,
      chargePeriodEnd: `${result.TimePeriod?.End ?? nextDay(day)}T00:00:00Z`,
      chargeCategory: 'Usage',
    };
    const groups = result.Groups ?? [];
    if (groups.length === 0 && result.Total?.UnblendedCost) {
      return [
        {
          ...base,
          billedCost: Number(result.Total.UnblendedCost.Amount ?? 0),
          effectiveCost: Number(
            result.Total.AmortizedCost?.Amount ?? result.Total.UnblendedCost.Amount ?? 0,
          ),
          currency: result.Total.UnblendedCost.Unit ?? 'USD',
          ...(request.attribution === 'tags' ? { tags: { 'mcml-service': request.service } } : {}),
        },
      ];
    }
    return groups.map((g) => {
      const [service, second = ''] = g.Keys ?? [];
      const billed = g.Metrics?.UnblendedCost;
      const tags: Record<string, string> = {};
      let subAccountId: string | undefined;
      if (request.attribution === 'tags') {
        tags['mcml-service'] = request.service;
        // Tag groups come back as "key$value"; an empty value means untagged.
        const target = second.includes('$') ? second.slice(second.indexOf('$') + 1) : second;
        if (target) tags['mcml-target'] = target;
      } else {
        subAccountId = second || undefined;
      }
      return {
        ...base,
        billedCost: Number(billed?.Amount ?? 0),
        effectiveCost: Number(g.Metrics?.AmortizedCost?.Amount ?? billed?.Amount ?? 0),
        currency: billed?.Unit ?? 'USD',
        ...(service ? { serviceName: service } : {}),
        ...(subAccountId ? { subAccountId } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      };
    });
  }
}
