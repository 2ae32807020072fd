/**
 * One Terraform root module (`terraform/<root>/`) as parts, and the files they make: the
 * `terraform` block with the pinned providers and the state backend, providers, variables,
 * main, outputs and the tfvars example. Every root has its own state, so one cloud's apply
 * never locks or risks another's.
 */
import { MCML_TAG_KEYS } from '../cost/focus.js';
import type { Cloud } from '../plan/types.js';
import type { Spec, StateBackend } from '../spec/schema.js';
import type { RenderContext, RenderTarget } from './context.js';
import {
  attr,
  blank,
  block,
  comment,
  expr,
  renderFile,
  type Block,
  type BodyItem,
  type HclValue,
  type Trivia,
} from './hcl.js';

/** Provider versions the modules and the roots pin. Bump them together with terraform/modules. */
export const PROVIDER_VERSIONS = {
  // 5.100 is the last 5.x; the modules use nothing 6.x removed, so both majors work.
  aws: { source: 'hashicorp/aws', version: '>= 5.100, < 7.0' },
  google: { source: 'hashicorp/google', version: '~> 7.0' },
  azurerm: { source: 'hashicorp/azurerm', version: '~> 4.0' },
  helm: { source: 'hashicorp/helm', version: '~> 3.0' },
} as const;

export type ProviderName = keyof typeof PROVIDER_VERSIONS;

/**
 * The roots, in the order `mcml infra` applies them: each cloud's network, clusters, buckets
 * and identities; then what runs inside the clusters (Helm releases, which need a reachable
 * cluster); then the DNS failover records, which need the load balancers that exist only
 * after `mcml deploy`.
 */
export const TERRAFORM_ROOTS = [
  'aws',
  'gcp',
  'azure',
  'aws-addons',
  'azure-addons',
  'dns',
] as const;
export type TerraformRoot = (typeof TERRAFORM_ROOTS)[number];

/** Roots whose inputs (load balancer names) exist only after `mcml deploy`. */
export const AFTER_DEPLOY_ROOTS: readonly TerraformRoot[] = ['dns'];

export interface RootParts {
  name: TerraformRoot;
  providers: ProviderName[];
  providerBlocks: Block[];
  variables: Block[];
  main: (Block | Trivia)[];
  outputs: Block[];
  /** Lines of terraform.tfvars.example: `name = "value"` for every variable without a default. */
  tfvars: string[];
}

/** Where the states go under the backend: `<prefix>/<root>.tfstate`. */
function statePrefix(spec: Spec, state: StateBackend): string {
  const own = state.backend === 'gcs' ? state.prefix : state.keyPrefix;
  return (own ?? `mcml/${spec.service.name}`).replace(/\/+$/, '');
}

/** The `backend` block of one root, or undefined for local state. */
export function backendBlock(spec: Spec, root: TerraformRoot): Block | undefined {
  const state = spec.infra.state;
  if (state === undefined) return undefined;
  const prefix = statePrefix(spec, state);
  if (state.backend === 's3') {
    return block(
      'backend',
      ['s3'],
      [
        attr('bucket', state.bucket),
        attr('key', `${prefix}/${root}.tfstate`),
        attr('region', state.region),
        attr('encrypt', true),
        state.lock === 'dynamodb'
          ? attr('dynamodb_table', state.dynamodbTable!)
          : attr('use_lockfile', true),
      ],
    );
  }
  if (state.backend === 'gcs') {
    return block(
      'backend',
      ['gcs'],
      [attr('bucket', state.bucket), attr('prefix', `${prefix}/${root}`)],
    );
  }
  return block(
    'backend',
    ['azurerm'],
    [
      attr('resource_group_name', state.resourceGroup),
      attr('storage_account_name', state.storageAccount),
      attr('container_name', state.container),
      attr('key', `${prefix}/${root}.tfstate`),
      attr('use_azuread_auth', true),
    ],
  );
}

/** The files of one root, under `terraform/<root>/`. */
export function rootFiles(spec: Spec, parts: RootParts): Record<string, string> {
  const dir = `terraform/${parts.name}`;
  const required: Record<string, HclValue> = {};
  for (const p of parts.providers) required[p] = { ...PROVIDER_VERSIONS[p] };
  const backend = backendBlock(spec, parts.name);
  const versions = renderFile([
    comment(`Rendered by mcml from the plan of service "${spec.service.name}". Do not edit:`),
    comment('change mcml.yaml and run "mcml render" again.'),
    blank,
    block(
      'terraform',
      [],
      [
        attr('required_version', '>= 1.10'),
        blank,
        block(
          'required_providers',
          [],
          Object.entries(required).map(([k, v]) => attr(k, v)),
        ),
        ...(backend === undefined ? [] : [blank, backend]),
      ],
    ),
  ]);
  const files: Record<string, string> = {
    [`${dir}/versions.tf`]: versions,
    [`${dir}/providers.tf`]: renderFile(parts.providerBlocks),
    [`${dir}/main.tf`]: renderFile(parts.main),
  };
  if (parts.variables.length > 0) files[`${dir}/variables.tf`] = renderFile(parts.variables);
  if (parts.outputs.length > 0) files[`${dir}/outputs.tf`] = renderFile(parts.outputs);
  files[`${dir}/terraform.tfvars.example`] =
    [
      '# Copy to terraform.tfvars and fill in; mcml never overwrites terraform.tfvars.',
      ...parts.tfvars,
    ].join('\n') + '\n';
  return files;
}

/** A `variable` block. */
export function variable(name: string, description: string, type: string, dflt?: HclValue): Block {
  return block(
    'variable',
    [name],
    [
      attr('description', description),
      attr('type', { kind: 'expr', text: type }),
      ...(dflt === undefined ? [] : [attr('default', dflt)]),
    ],
  );
}

/**
 * The cost-attribution tags of one target: `mcml cost` groups billing rows by them, so every
 * taggable resource carries them (AWS default_tags, GCP default labels, Azure tags).
 */
export function attributionTags(
  ctx: RenderContext,
  cloud: Cloud,
  target?: string,
): Record<string, string> {
  return {
    'managed-by': 'mcml',
    [MCML_TAG_KEYS.service]: ctx.spec.service.name,
    ...(target === undefined ? {} : { [MCML_TAG_KEYS.target]: target }),
    [MCML_TAG_KEYS.cloud]: cloud,
  };
}

/** `locals { tags = { <id> = {…} } }` for the targets of one root. */
export function tagLocals(
  ctx: RenderContext,
  targets: RenderTarget[],
  extra: BodyItem[] = [],
): Block {
  return block(
    'locals',
    [],
    [
      ...extra,
      attr(
        'tags',
        Object.fromEntries(
          targets.map((t) => [t.id, attributionTags(ctx, t.cloud, t.placement.target)]),
        ),
      ),
    ],
  );
}

/** The tags of one target, from tagLocals. */
export const tags = (t: RenderTarget): HclValue => expr(`local.tags.${t.id}`);

/** The aliased AWS provider of one target, tagging everything it creates. */
export function awsProvider(t: RenderTarget): Block {
  return block(
    'provider',
    ['aws'],
    [
      attr('alias', t.id),
      attr('region', t.placement.region),
      blank,
      block('default_tags', [], [attr('tags', tags(t))]),
    ],
  );
}

/** The azurerm provider (no aliases: the subscription is the scope, locations are per resource). */
export function azurermProvider(): Block {
  return block(
    'provider',
    ['azurerm'],
    [
      attr('subscription_id', expr('var.azure_subscription_id')),
      comment('Storage accounts have shared keys off: use Entra ID for data-plane calls.'),
      attr('storage_use_azuread', true),
      blank,
      block('features', [], []),
    ],
  );
}
