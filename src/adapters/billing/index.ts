/**
 * The one way to get the billing sources of a spec: builds each cloud's cost API client from
 * options, environment and the SDK's default credential chain. SDKs load lazily.
 *
 * Endpoint overrides (emulators and tests): AWS `MCML_CE_ENDPOINT` or `AWS_ENDPOINT_URL`;
 * Azure `MCML_AZURE_COST_ENDPOINT`; BigQuery `MCML_BIGQUERY_ENDPOINT`.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { BigQueryOptions } from '@google-cloud/bigquery';
import type { BillingSource } from '../../ports/billing-source.js';

export interface BillingSourceConfig {
  aws?: { enabled: boolean; region?: string; endpoint?: string };
  gcp?: {
    table: string;
    location?: string;
    projectId?: string;
    endpoint?: string;
    /** An auth client instead of Application Default Credentials (tests). */
    authClient?: BigQueryOptions['authClient'];
  };
  azure?: {
    scope: string;
    endpoint?: string;
    credential?: TokenCredential;
    /** PEM of a CA to trust (a test double's self-signed certificate). */
    ca?: string;
  };
  env?: Record<string, string | undefined>;
}

export async function openBillingSources(config: BillingSourceConfig): Promise<BillingSource[]> {
  const env = config.env ?? process.env;
  const sources: BillingSource[] = [];
  if (config.aws?.enabled) {
    const [{ CostExplorerClient }, { AwsCostExplorerSource }] = await Promise.all([
      import('@aws-sdk/client-cost-explorer'),
      import('./aws-cost-explorer.js'),
    ]);
    const endpoint = config.aws.endpoint ?? env.MCML_CE_ENDPOINT ?? env.AWS_ENDPOINT_URL;
    const client = new CostExplorerClient({
      // Cost Explorer answers in us-east-1 only.
      region: config.aws.region ?? 'us-east-1',
      // mcml retries throttling itself, with backoff, per cloud.
      maxAttempts: 1,
      ...(endpoint ? { endpoint } : {}),
    });
    sources.push(new AwsCostExplorerSource({ client }));
  }
  if (config.azure) {
    const [{ CostManagementClient }, { AzureCostManagementSource }] = await Promise.all([
      import('@azure/arm-costmanagement'),
      import('./azure-cost-management.js'),
    ]);
    const credential =
      config.azure.credential ?? new (await import('@azure/identity')).DefaultAzureCredential();
    const endpoint = config.azure.endpoint ?? env.MCML_AZURE_COST_ENDPOINT;
    const client = new CostManagementClient(credential, {
      ...(endpoint
        ? { endpoint, credentialScopes: ['https://management.azure.com/.default'] }
        : {}),
      ...(config.azure.ca ? { tlsOptions: { ca: config.azure.ca } } : {}),
      retryOptions: { maxRetries: 0 },
    });
    sources.push(new AzureCostManagementSource({ client, scope: config.azure.scope }));
  }
  if (config.gcp) {
    const [{ BigQuery }, { BigQueryFocusSource }] = await Promise.all([
      import('@google-cloud/bigquery'),
      import('./bigquery-focus.js'),
    ]);
    const endpoint = config.gcp.endpoint ?? env.MCML_BIGQUERY_ENDPOINT;
    const projectId = config.gcp.projectId ?? config.gcp.table.split('.')[0];
    const client = new BigQuery({
      ...(projectId ? { projectId } : {}),
      ...(endpoint ? { apiEndpoint: endpoint } : {}),
      ...(config.gcp.authClient ? { authClient: config.gcp.authClient } : {}),
      // mcml retries throttling itself, with backoff, per cloud.
      autoRetry: false,
    });
    sources.push(
      new BigQueryFocusSource({
        client,
        table: config.gcp.table,
        ...(config.gcp.location ? { location: config.gcp.location } : {}),
      }),
    );
  }
  return sources;
}
