/**
 * The one way to get a DnsProvider from a spec's `failover.dns` section. SDKs load lazily.
 * Secrets come from the environment (the spec names the variable, never the secret).
 */
import { McmlError } from '../core/errors.js';
import type { DnsConfig } from '../core/spec/index.js';
import type { TokenCredential } from '@azure/core-auth';
import type { DnsProvider } from '../ports/dns-provider.js';
import type { CloudDnsOptions } from './clouddns/index.js';

export interface CreateDnsProviderOptions {
  env?: Record<string, string | undefined>;
  /** Azure DNS: a credential instead of DefaultAzureCredential (tests, embedding). */
  azureCredential?: TokenCredential;
  /** Extra CA certificates for an `endpoint` with its own certificate (an emulator). */
  ca?: string;
}

/** An auth client for Google's SDKs that sends one OAuth2 access token. */
function bearerAuth(token: string): NonNullable<CloudDnsOptions['authClient']> {
  const client = {
    getRequestHeaders: () => Promise.resolve({ Authorization: `Bearer ${token}` }),
    getAccessToken: () => Promise.resolve({ token }),
  };
  return client as unknown as NonNullable<CloudDnsOptions['authClient']>;
}

/** Builds the DNS writer the spec asks for. Throws input errors for missing settings. */
export async function createDnsProvider(
  dns: DnsConfig,
  options: CreateDnsProviderOptions = {},
): Promise<DnsProvider> {
  const env = options.env ?? process.env;
  switch (dns.provider) {
    case 'route53':
      return route53Provider(dns, env);
    case 'rfc2136':
      return rfc2136Provider(dns, env);
    case 'clouddns':
      return cloudDnsProvider(dns, env);
    case 'azuredns':
      return azureDnsProvider(dns, options);
    default:
      throw new McmlError(
        'UNSUPPORTED',
        `DNS provider "${String(dns.provider)}" is not available`,
        {
          hint: 'use route53, rfc2136, clouddns or azuredns',
        },
      );
  }
}

type Env = Record<string, string | undefined>;

function missing(dns: DnsConfig, field: string, why: string): McmlError {
  return new McmlError(
    'SPEC_INVALID',
    `failover.dns.${field} is required for ${dns.provider}: ${why}`,
  );
}

async function route53Provider(dns: DnsConfig, env: Env): Promise<DnsProvider> {
  const { Route53Provider } = await import('./route53/index.js');
  const endpoint = dns.endpoint ?? env.MCML_ROUTE53_ENDPOINT;
  return new Route53Provider({
    zone: dns.zone,
    ...(dns.hostedZoneId ? { hostedZoneId: dns.hostedZoneId } : {}),
    ...(endpoint ? { endpoint } : {}),
  });
}

async function rfc2136Provider(dns: DnsConfig, env: Env): Promise<DnsProvider> {
  if (!dns.server) throw missing(dns, 'server', 'the name server that takes updates, host:port');
  if (!dns.tsigKeyName) {
    throw missing(dns, 'tsigKeyName', 'the TSIG key allowed to update the zone');
  }
  const secret = env[dns.tsigSecretEnv];
  if (!secret) {
    throw new McmlError(
      'PROVIDER_AUTH',
      `the TSIG secret of key "${dns.tsigKeyName}" is not set: environment variable ${dns.tsigSecretEnv} is empty`,
      { hint: `export ${dns.tsigSecretEnv}=<base64 secret from the key file>` },
    );
  }
  const { Rfc2136Provider } = await import('./rfc2136/index.js');
  return new Rfc2136Provider({
    server: dns.server,
    zone: dns.zone,
    tsig: { name: dns.tsigKeyName, algorithm: dns.tsigAlgorithm, secretBase64: secret },
  });
}

async function cloudDnsProvider(dns: DnsConfig, env: Env): Promise<DnsProvider> {
  if (!dns.project) throw missing(dns, 'project', 'the GCP project that owns the managed zone');
  const { CloudDnsProvider } = await import('./clouddns/index.js');
  // An access token, as Google's Terraform provider reads it; else the default chain.
  const token = env.GOOGLE_OAUTH_ACCESS_TOKEN;
  return new CloudDnsProvider({
    project: dns.project,
    zone: dns.zone,
    ...(dns.endpoint ? { endpoint: dns.endpoint } : {}),
    ...(token ? { authClient: bearerAuth(token) } : {}),
  });
}

async function azureDnsProvider(
  dns: DnsConfig,
  options: CreateDnsProviderOptions,
): Promise<DnsProvider> {
  if (!dns.subscriptionId) throw missing(dns, 'subscriptionId', 'the Azure subscription id');
  if (!dns.resourceGroup) throw missing(dns, 'resourceGroup', 'the resource group of the zone');
  const { AzureDnsProvider } = await import('./azuredns/index.js');
  return new AzureDnsProvider({
    subscriptionId: dns.subscriptionId,
    resourceGroup: dns.resourceGroup,
    zone: dns.zone,
    ...(dns.endpoint ? { endpoint: dns.endpoint } : {}),
    ...(options.azureCredential ? { credential: options.azureCredential } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
}
