/**
 * The `mcml.yaml` schema. One source of truth: the TypeScript types below are inferred from
 * it, `schema/mcml.schema.json` is generated from it (`npm run schema`), and `parseSpec`
 * validates against it with file:line:column errors.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

// A spec is validated once per process: zod's compiled fast path (code generated per object
// schema on first use) costs more start-up than it saves (BENCHMARKS.md, sync, start-up).
z.config({ jitless: true });

/** Lower-case DNS-1123 label: it becomes Kubernetes names, bucket prefixes and DNS labels. */
const dnsLabel = z
  .string()
  .max(63, {
    message: 'names become DNS labels and Kubernetes names, which hold at most 63 characters',
  })
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message:
      'must be a lower-case DNS label: a-z, 0-9 and "-", starting and ending alphanumeric, at most 63 characters',
  });

/** Most targets and data sets one spec holds: one service runs on a handful of clusters. */
export const MAX_TARGETS = 1000;

/**
 * A duration from `min` to `max`: "500ms", "2s", "5m", "1h", or a number of seconds. Every
 * duration field has bounds: one too long overflows Node's timers, one of zero spins a loop.
 */
function duration(min: string, max: string, what?: string) {
  const minMs = parseDuration(min)!;
  const maxMs = parseDuration(max)!;
  return z
    .union([
      z.number().nonnegative(),
      z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, {
        message: 'must be a duration such as "500ms", "2s", "5m" or "1h"',
      }),
    ])
    .superRefine((value, ctx) => {
      const ms = parseDuration(value);
      if (ms !== undefined && ms >= minMs && ms <= maxMs) return;
      const got = typeof value === 'number' ? `${value} (seconds)` : JSON.stringify(value);
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${got}` });
    })
    .describe(
      `${what === undefined ? '' : `${what} `}A duration from ${min} to ${max}: "500ms", "2s", "5m", "1h", or a number of seconds.`,
    );
}

/** Memory: "16Gi", "512Mi", "2G", or a number of GiB. */
export const memorySchema = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/, {
      message: 'must be a quantity such as "16Gi", "512Mi" or a number of GiB',
    }),
  ])
  .describe('Memory: "16Gi", "512Mi", or a number of GiB.');

export const PROVIDERS = ['aws', 'gcp', 'azure', 'local'] as const;
export const providerSchema = z.enum(PROVIDERS);
export type Provider = z.infer<typeof providerSchema>;

/** Jurisdictions data can be pinned to. `local` is this machine, for `mcml up`. */
export const JURISDICTIONS = [
  'us',
  'ca',
  'eu',
  'uk',
  'ch',
  'asia',
  'jp',
  'kr',
  'in',
  'au',
  'br',
  'me',
  'af',
  'local',
] as const;
export const jurisdictionSchema = z.enum(JURISDICTIONS);
export type Jurisdiction = z.infer<typeof jurisdictionSchema>;

/** Accelerator models known to the catalog (canonical names, as `mcml catalog gpus` shows). */
export const GPU_MODELS = [
  'T4',
  'L4',
  'A10G',
  'A10',
  'V100',
  'A100',
  'A100-80GB',
  'H100',
  'L40S',
  'K80',
  'P100',
  'P4',
  'M60',
] as const;
export const gpuModelSchema = z.enum(GPU_MODELS);
export type GpuModel = z.infer<typeof gpuModelSchema>;

const modelSchema = z
  .strictObject({
    uri: z
      .string()
      .min(1)
      .describe(
        'Where the model lives: a path, file://, s3://, gs://, az://account/container/key or https://account.blob.core.windows.net/….',
      ),
    name: dnsLabel.default('model').describe('The model name in the inference API.'),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/, { message: 'must be 64 lower-case hex digits' })
      .optional()
      .describe('Expected sha256 of the model file; checked before loading.'),
    cacheSize: z
      .union([
        z.number().positive(),
        z.string().regex(/^\d+(\.\d+)?(Mi|Gi|Ti|M|G|T)$/, {
          message: 'must be a quantity such as "20Gi" or "1Ti", or a number of GiB',
        }),
      ])
      .default('20Gi')
      .describe(
        "Disk each replica keeps the downloaded model and its external data files on (an emptyDir). It sizes the volume, the ephemeral storage each replica requests, the nodes' disks and how long a replica may take to start (10 s per GiB, at least 10 minutes): raise it for models over ~15 GiB.",
      ),
  })
  .describe('The ONNX model the service serves.');

const resourcesSchema = z
  .strictObject({
    cpu: z.number().positive().describe('vCPUs per replica.'),
    memory: memorySchema,
    gpu: z
      .strictObject({
        count: z.number().int().min(1).max(16).default(1),
        model: gpuModelSchema.describe('Accelerator model, e.g. V100, T4, A10G, A100, L4.'),
      })
      .optional()
      .describe('GPUs per replica; omit for a CPU-only service.'),
  })
  .describe('What one replica needs.');

const replicasSchema = z
  .strictObject({
    min: z.number().int().min(0).default(1),
    max: z.number().int().min(1).default(1),
    targetCpuUtilization: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(70)
      .describe('HPA target: average CPU utilisation in percent.'),
    targetQueueDepth: z
      .number()
      .positive()
      .optional()
      .describe('Scale on in-flight inference requests per replica instead of CPU.'),
  })
  .describe('Replica count per target and the autoscaling target.');

const tlsSchema = z
  .strictObject({
    hosts: z
      .array(
        z.string().regex(/^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$/, {
          message: 'must be a lower-case DNS name such as ml.example.com',
        }),
      )
      .min(1)
      .describe(
        "Names clients use (the DNS failover record, e.g. ml.example.com): the certificate covers them and each cluster's Gateway routes them to its front door. An https:// target endpoint's host is added for that cluster and routed to its service.",
      ),
    issuer: z
      .string()
      .min(1)
      .describe(
        "cert-manager issuer that signs the certificate, e.g. a Let's Encrypt ClusterIssuer with a DNS-01 solver (HTTP-01 cannot validate a name DNS points at another cluster).",
      ),
    issuerKind: z.enum(['ClusterIssuer', 'Issuer']).default('ClusterIssuer'),
    gatewayClassName: z
      .strictObject({
        aws: z.string().min(1).default('eg'),
        gcp: z.string().min(1).default('gke-l7-regional-external-managed'),
        azure: z.string().min(1).default('azure-alb-external'),
      })
      .prefault({})
      .describe(
        'GatewayClass per cloud; defaults: aws eg (Envoy Gateway), gcp gke-l7-regional-external-managed, azure azure-alb-external (Application Gateway for Containers).',
      ),
  })
  .describe(
    'TLS at the edge: a cert-manager Certificate and a Gateway API Gateway + HTTPRoutes in every cluster; the Services stay inside the cluster (ClusterIP). Needs cert-manager and a Gateway API implementation in each cluster.',
  );

const authSchema = z
  .strictObject({
    bearerTokenSecret: dnsLabel.describe(
      'Kubernetes Secret (key "token", in the service namespace) holding the bearer token; mcml serve answers 401 on model routes without it. Create it yourself: it is never rendered.',
    ),
  })
  .describe('Inference authentication: clients send Authorization: Bearer <token>.');

export const serviceSchema = z
  .strictObject({
    name: dnsLabel.describe('Service name: Kubernetes names, DNS labels and bucket prefixes.'),
    image: z.string().min(1).default('ghcr.io/mcml-dev/mcml:0.1.0').describe('Container image.'),
    port: z.number().int().min(1).max(65535).default(8000),
    model: modelSchema,
    resources: resourcesSchema,
    replicas: replicasSchema.prefault({}),
    healthPath: z
      .string()
      .startsWith('/')
      .default('/v2/health/ready')
      .describe('HTTP path that answers 200 when a replica is ready.'),
    env: z.record(z.string(), z.string()).default({}).describe('Extra environment variables.'),
    tls: tlsSchema.optional(),
    auth: authSchema.optional(),
  })
  .describe('The inference service deployed to every target.');

const overridesSchema = z
  .strictObject({
    instanceType: z.string().min(1).optional().describe('Pin the instance type for this target.'),
    replicas: z
      .strictObject({
        min: z.number().int().min(0).optional(),
        max: z.number().int().min(1).optional(),
      })
      .optional(),
    image: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
  })
  .describe('Per-target overrides of the service.');

export const targetSchema = z
  .strictObject({
    name: dnsLabel.describe('Target name, unique in the spec.'),
    provider: providerSchema,
    region: z.string().min(1).describe('Cloud region, e.g. us-east-1, us-central1, eastus.'),
    emulates: z
      .enum(['aws', 'gcp', 'azure'])
      .optional()
      .describe(
        'local targets only: the cloud this local target stands in for (prices, labels, CLOUD_PROVIDER).',
      ),
    tier: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Failover tier: 1 is primary. Defaults to the order in this list.'),
    context: z.string().min(1).optional().describe('kubectl context of the cluster.'),
    bucket: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Bucket URI that holds this target's model and data (s3://, gs://, az://, file://).",
      ),
    spot: z.boolean().default(false).describe('Allow spot / preemptible capacity.'),
    onDemandFloor: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe('With spot allowed: replicas that stay on-demand.'),
    endpoint: z
      .url()
      .optional()
      .describe("Public URL of the target's service, for health checks and the front door."),
    weight: z.number().int().min(0).max(1000).default(100).describe('Weight for weighted routing.'),
    probes: z
      .array(z.url())
      .optional()
      .describe(
        'Health probe URLs for this target (default: endpoint + check path); failover.check.quorum of them must pass.',
      ),
    overrides: overridesSchema.optional(),
  })
  .describe('One place the service runs: a cloud, a region and a cluster.');

const haStrategy = z.strictObject({
  type: z.literal('high-availability'),
  minClouds: z
    .number()
    .int()
    .min(1)
    .max(4)
    .default(2)
    .describe('Fewest distinct clouds among the targets.'),
});
const costStrategy = z.strictObject({
  type: z.literal('cost'),
  maxTargets: z.number().int().min(1).optional().describe('Keep only the N cheapest targets.'),
});
const bestOfBreedStrategy = z.strictObject({
  type: z.literal('best-of-breed'),
  prefer: z
    .strictObject({
      serving: providerSchema.optional().describe('Cloud for the primary serving tier.'),
      spot: providerSchema.optional().describe('Cloud for spot capacity.'),
      data: providerSchema.optional().describe('Cloud that holds the data sets.'),
    })
    .optional()
    .describe('Pin roles to clouds; unset roles go to the cloud priced best for them.'),
});
const residencyStrategy = z.strictObject({
  type: z.literal('residency'),
  strict: z
    .boolean()
    .default(true)
    .describe('Refuse a plan in which any data set would leave its jurisdiction.'),
});

export const strategySchema = z
  .discriminatedUnion('type', [haStrategy, costStrategy, bestOfBreedStrategy, residencyStrategy])
  .describe('How targets are chosen and ordered.');
export const STRATEGY_TYPES = ['high-availability', 'cost', 'best-of-breed', 'residency'] as const;

export const dataSetSchema = z
  .strictObject({
    name: dnsLabel,
    source: z.string().min(1).describe('Source URI: a path, file://, s3://, gs://, az://.'),
    jurisdiction: jurisdictionSchema.describe('Where this data may live, e.g. eu, us, asia.'),
    targets: z
      .array(z.string())
      .optional()
      .describe('Targets that receive it; default: every target in its jurisdiction.'),
    prefix: z
      .string()
      // No "." or ".." segment, no NUL: the prefix must stay inside each bucket.
      .regex(/^(?!(?:[\s\S]*\/)?\.{1,2}(?:\/|$))[^\0]*$/, {
        message: 'must stay inside the bucket: no "." or ".." segments (e.g. data/name/)',
      })
      .optional()
      .describe('Destination prefix in each bucket; default data/<name>/.'),
    include: z.array(z.string()).default([]).describe('Globs of keys to copy.'),
    exclude: z.array(z.string()).default([]).describe('Globs of keys to skip.'),
    sizeGb: z
      .number()
      .nonnegative()
      .optional()
      .describe('Approximate size, for the egress estimate of replicating it.'),
  })
  .describe('A data set replicated to targets, pinned to a jurisdiction.');

const healthCheckSchema = z
  .strictObject({
    path: z.string().startsWith('/').optional().describe('Default: service.healthPath.'),
    interval: duration('50ms', '1h').default('2s'),
    timeout: duration('10ms', '10m').default('1s'),
    failureThreshold: z.number().int().min(1).default(3),
    successThreshold: z.number().int().min(1).default(2),
    quorum: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Probes of a target that must pass; default: a majority of its probes.'),
  })
  .describe('Active HTTP health checks.');

const dnsSchema = z
  .strictObject({
    provider: z.enum(['route53', 'rfc2136', 'clouddns', 'azuredns']),
    zone: z.string().min(1).describe('Zone name (example.com) or provider zone id.'),
    record: z.string().min(1).describe('Record name the service answers on, e.g. ml.example.com.'),
    ttl: z.number().int().min(1).max(86400).default(30),
    server: z.string().optional().describe('rfc2136: name server host:port.'),
    tsigKeyName: z.string().optional().describe('rfc2136: TSIG key name.'),
    tsigAlgorithm: z
      .enum(['hmac-sha256', 'hmac-sha512', 'hmac-sha1', 'hmac-md5'])
      .default('hmac-sha256'),
    tsigSecretEnv: z
      .string()
      .default('MCML_TSIG_SECRET')
      .describe('rfc2136: environment variable holding the base64 TSIG secret (never the secret).'),
    project: z.string().optional().describe('clouddns: GCP project.'),
    resourceGroup: z.string().optional().describe('azuredns: resource group.'),
    subscriptionId: z.string().optional().describe('azuredns: subscription id.'),
    hostedZoneId: z.string().optional().describe('route53: hosted zone id, if not looked up.'),
    endpoint: z.url().optional().describe('Override the provider API endpoint (emulators).'),
    route53Failover: z
      .boolean()
      .default(false)
      .describe(
        'route53: also write Route 53 failover records over every tier (PRIMARY/SECONDARY levels chained as the rendered Terraform does), each tier with a Route 53 health check; Route 53 then fails over by itself.',
      ),
  })
  .describe('DNS record kept pointing at the active target.');

export const failoverSchema = z
  .strictObject({
    mode: z.enum(['front-door', 'dns', 'both']).default('front-door'),
    routing: z
      .enum(['ordered', 'weighted', 'latency', 'residency'])
      .default('ordered')
      .describe('How the front door picks among healthy targets.'),
    check: healthCheckSchema.prefault({}),
    failback: z.enum(['auto', 'manual']).default('auto'),
    stablePeriod: duration('0s', '24h', 'Healthy time before failing back.').default('30s'),
    frontDoor: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
        retryPost: z
          .boolean()
          .default(true)
          .describe('Retry inference POSTs on the next tier (they are idempotent).'),
        jurisdictionHeader: z.string().default('x-mcml-jurisdiction'),
        allowedHosts: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'Host names the dashboard, state API and /metrics answer to besides IP addresses and localhost (DNS-rebinding guard); "*.example.com" matches subdomains.',
          ),
        upstreamTimeout: duration(
          '10ms',
          '1h',
          'Longest wait for an upstream response before trying the next tier.',
        ).default('30s'),
        adminTokenEnv: z
          .string()
          .default('MCML_ADMIN_TOKEN')
          .describe(
            'Environment variable holding the bearer token for /_mcml admin actions (never the token).',
          ),
      })
      .prefault({}),
    outlier: z
      .strictObject({
        consecutiveErrors: z
          .number()
          .int()
          .min(0)
          .default(5)
          .describe(
            'Consecutive proxied attempts failed by the target (connect error, reset, timeout, 502/503/504) that eject it at once; 0 disables.',
          ),
        maxEjectionPercent: z
          .number()
          .int()
          .min(0)
          .max(100)
          .default(50)
          .describe(
            'Most targets (percent, at least one) live traffic may eject at once; the last usable target is never ejected by it.',
          ),
      })
      .prefault({})
      .describe('Passive outlier detection from live traffic, as Envoy does.'),
    dns: dnsSchema.optional(),
  })
  .describe('Health checks, the front door and DNS failover.');

export const monitoringSchema = z
  .strictObject({
    scrapeInterval: duration('1s', '1h').default('15s'),
    alerts: z
      .strictObject({
        errorRatio: z.number().min(0).max(1).default(0.05),
        p99LatencyMs: z.number().positive().default(500),
        downFor: duration(
          '0s',
          '1h',
          'How long a target may have no ready replica (or an unreachable cluster) before McmlNoReadyReplica fires.',
        ).default('2m'),
      })
      .prefault({}),
    grafana: z.boolean().default(true),
  })
  .describe('Prometheus scraping, alert thresholds and the Grafana dashboard.');

export const budgetSchema = z
  .strictObject({
    monthly: z.number().positive().describe('Monthly limit in USD.'),
    currency: z.literal('USD').default('USD'),
    warnAt: z
      .number()
      .min(0)
      .max(1)
      .default(0.8)
      .describe('Warn when the plan exceeds this share of the limit.'),
  })
  .describe('Monthly budget.');

export const costSchema = z
  .strictObject({
    attribution: z
      .enum(['tags', 'accounts', 'all'])
      .default('tags')
      .describe(
        'Which billing rows belong to this deployment: tagged mcml-service=<service.name> (tags), in the accounts below (accounts), or every row (all).',
      ),
    accounts: z
      .record(z.string(), z.string().min(1))
      .default({})
      .describe(
        'Target name → the AWS account id, GCP project id or Azure subscription id it runs in (attribution: accounts).',
      ),
    aws: z
      .strictObject({
        costExplorer: z.boolean().default(true).describe('Pull from Cost Explorer.'),
      })
      .optional()
      .describe('mcml cost pull: AWS Cost Explorer (GetCostAndUsage).'),
    gcp: z
      .strictObject({
        bigqueryTable: z
          .string()
          .regex(/^[a-z][a-z0-9-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$/, {
            message: 'must be project.dataset.table',
          })
          .describe('The FOCUS billing export table: project.dataset.table.'),
        location: z.string().optional().describe('The dataset location (US, EU, a region).'),
      })
      .optional()
      .describe('mcml cost pull: the BigQuery FOCUS billing export.'),
    azure: z
      .strictObject({
        scope: z
          .string()
          .startsWith('/')
          .describe('Cost Management scope, e.g. /subscriptions/<id>.'),
      })
      .optional()
      .describe('mcml cost pull: Azure Cost Management Query.'),
  })
  .describe('Billing data: where mcml cost pulls it from and which rows are this deployment.');

/** An IPv4 CIDR such as 203.0.113.0/24. */
const ipv4Cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d|[12]\d|3[0-2])$/, {
    message: 'must be an IPv4 CIDR such as 203.0.113.0/24',
  })
  .refine(
    (c) =>
      c
        .split('/')[0]!
        .split('.')
        .every((o) => Number(o) <= 255),
    {
      message: 'must be an IPv4 CIDR: each octet is 0-255',
    },
  );

const s3StateSchema = z.strictObject({
  backend: z.literal('s3'),
  bucket: z.string().min(3).describe('S3 bucket that holds the state files (create it first).'),
  region: z.string().min(1).describe('Region of the state bucket.'),
  keyPrefix: z
    .string()
    .min(1)
    .optional()
    .describe('Key prefix of the state files; default mcml/<service.name>.'),
  lock: z
    .enum(['lockfile', 'dynamodb'])
    .default('lockfile')
    .describe(
      'lockfile: S3-native locking (a .tflock object, Terraform >= 1.10); dynamodb: a DynamoDB table (older setups).',
    ),
  dynamodbTable: z
    .string()
    .min(1)
    .optional()
    .describe('lock: dynamodb: the lock table, with a string partition key LockID.'),
});

const gcsStateSchema = z.strictObject({
  backend: z.literal('gcs'),
  bucket: z.string().min(3).describe('GCS bucket that holds the state (locking is built in).'),
  prefix: z
    .string()
    .min(1)
    .optional()
    .describe('Object prefix of the states; default mcml/<service.name>.'),
});

const azurermStateSchema = z.strictObject({
  backend: z.literal('azurerm'),
  resourceGroup: z.string().min(1).describe('Resource group of the storage account.'),
  storageAccount: z.string().min(3).describe('Storage account that holds the state.'),
  container: z.string().min(3).describe('Blob container of the state (locking by blob lease).'),
  keyPrefix: z
    .string()
    .min(1)
    .optional()
    .describe('Blob name prefix of the states; default mcml/<service.name>.'),
});

export const stateSchema = z
  .discriminatedUnion('backend', [s3StateSchema, gcsStateSchema, azurermStateSchema])
  .superRefine((s, ctx) => {
    if (s.backend === 's3' && s.lock === 'dynamodb' && s.dynamodbTable === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['dynamodbTable'],
        message: 'lock: dynamodb needs dynamodbTable (or use lock: lockfile)',
      });
    }
  })
  .describe(
    'Remote Terraform state: one state file per root (one per cloud, plus dns), all in this backend.',
  );

export const infraSchema = z
  .strictObject({
    state: stateSchema.optional(),
    apiAccess: z
      .strictObject({
        private: z
          .boolean()
          .default(false)
          .describe(
            'Kubernetes API endpoints reachable only from inside each cluster network (EKS private endpoint, GKE private cluster, AKS private cluster): run mcml infra/deploy from there.',
          ),
        authorizedCidrs: z
          .array(ipv4Cidr)
          .max(40)
          .default([])
          .describe(
            'With a public endpoint: the only networks that may reach it (empty: anywhere). With private: the in-network ranges GKE allows.',
          ),
      })
      .prefault({})
      .describe('Who can reach the Kubernetes API servers.'),
  })
  .describe('Terraform: where its state lives and how open the clusters are.');

export const specSchema = z
  .strictObject({
    version: z.literal(1).default(1).describe('Spec format version.'),
    service: serviceSchema,
    targets: z
      .array(targetSchema)
      .min(1, { message: 'needs at least one target' })
      .max(MAX_TARGETS, { message: `holds at most ${MAX_TARGETS} targets` }),
    strategy: strategySchema.default({ type: 'high-availability', minClouds: 2 }),
    data: z
      .array(dataSetSchema)
      .max(MAX_TARGETS, { message: `holds at most ${MAX_TARGETS} data sets` })
      .default([]),
    failover: failoverSchema.prefault({}),
    monitoring: monitoringSchema.prefault({}),
    budget: budgetSchema.optional(),
    cost: costSchema.optional(),
    infra: infraSchema.prefault({}),
  })
  .describe('mcml.yaml: one ML inference service on several clouds.');

/** A validated spec with defaults applied. */
export type Spec = z.infer<typeof specSchema>;
/** A spec as written by a user (before defaults). */
export type SpecInput = z.input<typeof specSchema>;
export type Service = Spec['service'];
export type Target = Spec['targets'][number];
export type Strategy = Spec['strategy'];
export type DataSet = Spec['data'][number];
export type Failover = Spec['failover'];
export type DnsConfig = NonNullable<Failover['dns']>;
export type Monitoring = Spec['monitoring'];
export type Budget = NonNullable<Spec['budget']>;
export type CostConfig = NonNullable<Spec['cost']>;
export type Infra = Spec['infra'];
export type StateBackend = NonNullable<Infra['state']>;
