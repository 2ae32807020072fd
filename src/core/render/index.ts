/**
 * `render(spec, plan)`: the plan turned into files — Terraform, Kubernetes manifests,
 * monitoring and DNS — as a map of relative path → content. Pure and deterministic: the same
 * spec and plan give byte-identical files. Refuses a plan with errors (PLAN_INFEASIBLE).
 */
import { McmlError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import type { Spec } from '../spec/schema.js';
import { buildContext, type RenderContext, type RenderOptions } from './context.js';
import {
  failoverTiers,
  healthCheckRequests,
  recordName,
  route53ChangeBatch,
  wantsRoute53,
} from './dns.js';
import { FRONT_DOOR, frontDoorWarnings, wantsFrontDoor } from './front-door.js';
import { renderKubernetes } from './kubernetes.js';
import { renderMonitoring } from './monitoring.js';
import { renderTerraform } from './terraform.js';

export { checkPlan, type RenderOptions, type WorkloadIdentity } from './context.js';
export {
  failoverTiers,
  healthCheckRequests,
  levelName,
  route53ChangeBatch,
  type FailoverTier,
  type HealthCheckRequest,
} from './dns.js';
export { FRONT_DOOR } from './front-door.js';
export { METRICS } from './metric-names.js';
export { PROXY_BASE_PORT, alertRules, type RuleTarget } from './monitoring.js';
export {
  AFTER_DEPLOY_ROOTS,
  KUBERNETES_VERSION,
  PROVIDER_VERSIONS,
  TERRAFORM_ROOTS,
  attributionTags,
  nodeBounds,
  type TerraformRoot,
} from './terraform.js';
export { parseBucketUri, type BucketRef } from './names.js';

export interface RenderResult {
  /** Relative path → file content. Paths use "/" and never start with "/" or contain "..". */
  files: Record<string, string>;
  /** terraform/modules/* the roots use; the caller copies them under terraform/modules/. */
  modules: string[];
  /** Things the user should know (e.g. values that exist only after terraform apply). */
  warnings: string[];
}

/** Token the apply script replaces with a health check ID. */
export function healthCheckToken(target: string): string {
  return `@@health-check-id:${target}@@`;
}

/** Token the apply script replaces with the hosted zone ID. */
export const HOSTED_ZONE_TOKEN = '@@hosted-zone-id@@';

/**
 * With another DNS provider there are no health-checked failover records to render (the
 * runtime writers of `mcml failover` serve those providers): say where the name must point.
 */
function otherProviderWarning(ctx: RenderContext): string[] {
  const dns = ctx.spec.failover.dns;
  if (dns === undefined || dns.provider === 'route53' || !wantsFrontDoor(ctx)) return [];
  const where = `the clusters' front doors (kubectl -n ${ctx.namespace} get service ${FRONT_DOOR.name} in each cluster)`;
  return [
    ctx.spec.failover.mode === 'both'
      ? `dns: render writes failover records for Route 53 only; with ${dns.provider}, "mcml failover" (mode both) points ${recordName(ctx)} at the active target's service, past the in-cluster front doors: to keep them in the path, use mode front-door and point ${recordName(ctx)} at ${where}`
      : `dns: render writes failover records for Route 53 only; with ${dns.provider}, point ${recordName(ctx)} at ${where} yourself`,
  ];
}

function renderDns(ctx: RenderContext, warnings: string[]): Record<string, string> {
  warnings.push(...otherProviderWarning(ctx));
  if (!wantsRoute53(ctx)) return {};
  const dns = ctx.spec.failover.dns!;
  const tiers = failoverTiers(ctx);
  const unknown = tiers.filter((t) => t.host === undefined).map((t) => t.target);
  if (unknown.length > 0) {
    const why = wantsFrontDoor(ctx)
      ? `the DNS failover records point at each cluster's front door, whose address ${unknown.join(', ')} will have only after "mcml deploy"`
      : `${unknown.join(', ')} ha${unknown.length === 1 ? 's' : 've'} no endpoint in mcml.yaml`;
    warnings.push(
      `dns: ${why}, so dns/ is not written; ` +
        'terraform/dns/ takes those load balancer names as variables (lb_host_*): after "mcml deploy", "mcml infra apply --root dns" fills them from terraform.tfvars or TF_VAR_lb_host_*',
    );
    return {};
  }
  if (ctx.spec.failover.mode !== 'front-door') {
    warnings.push(
      `dns: "mcml failover" (mode ${ctx.spec.failover.mode}) also writes ${recordName(ctx)}; apply the rendered Route 53 records (terraform/dns/ or dns/) or run failover in DNS mode, not both`,
    );
  }
  const known = tiers.map((t) => ({ target: t.target, host: t.host! }));
  const record = recordName(ctx);
  const checks = healthCheckRequests(ctx.spec.service.name, tiers);
  const batch = route53ChangeBatch({
    record,
    ttl: dns.ttl,
    hostedZoneId: dns.hostedZoneId ?? HOSTED_ZONE_TOKEN,
    tiers: known,
    healthCheckIds: Object.fromEntries(known.map((t) => [t.target, healthCheckToken(t.target)])),
    comment: `mcml ${ctx.spec.service.name}: ordered failover ${known.map((t) => t.target).join(' → ')}`,
  });
  const zoneLookup =
    dns.hostedZoneId !== undefined
      ? `ZONE_ID=${dns.hostedZoneId}`
      : `ZONE_ID=$(aws route53 list-hosted-zones-by-name --dns-name ${dns.zone.replace(/\.$/, '')}. --max-items 1 --query 'HostedZones[0].Id' --output text | sed 's|/hostedzone/||')`;
  const script = [
    '#!/usr/bin/env sh',
    '# Creates the Route 53 health checks (idempotent: same caller reference → same check),',
    '# fills their IDs into the change batch and applies it. Same records as terraform/dns/:',
    '# use one or the other. Needs the AWS CLI with credentials for the hosted zone.',
    'set -eu',
    'cd "$(dirname "$0")"',
    zoneLookup,
    'cp route53-change-batch.json .change-batch.json',
    `sed -i "s|${HOSTED_ZONE_TOKEN}|$ZONE_ID|g" .change-batch.json`,
    ...checks.flatMap((c, i) => [
      `ID=$(aws route53 create-health-check --caller-reference ${c.CallerReference} \\`,
      `  --health-check-config "$(node -e 'process.stdout.write(JSON.stringify(require("./route53-health-checks.json")[${i}].HealthCheckConfig))')" \\`,
      "  --query 'HealthCheck.Id' --output text)",
      `sed -i "s|${healthCheckToken(c.target)}|$ID|g" .change-batch.json`,
    ]),
    'aws route53 change-resource-record-sets --hosted-zone-id "$ZONE_ID" --change-batch file://.change-batch.json',
  ];
  return {
    'dns/route53-health-checks.json': JSON.stringify(checks, null, 2) + '\n',
    'dns/route53-change-batch.json': JSON.stringify(batch, null, 2) + '\n',
    'dns/apply-route53.sh': script.join('\n') + '\n',
  };
}

/** Renders every artifact of the plan. Throws McmlError (PLAN_INFEASIBLE, INVALID_ARGUMENT). */
export function render(spec: Spec, plan: Plan, options: RenderOptions = {}): RenderResult {
  const ctx = buildContext(spec, plan, options);
  if (ctx.targets.length === 0) {
    throw new McmlError('UNSUPPORTED', 'nothing to render: every target is local', {
      hint: 'local targets run on this machine with "mcml up"; render is for aws, gcp and azure targets',
    });
  }
  const terraform = renderTerraform(ctx);
  const warnings = [...ctx.warnings, ...frontDoorWarnings(ctx), ...terraform.warnings];
  const files: Record<string, string> = {
    ...terraform.files,
    ...renderKubernetes(ctx),
    ...renderMonitoring(ctx),
    ...renderDns(ctx, warnings),
  };
  const sorted = Object.fromEntries(
    Object.keys(files)
      .sort()
      .map((k) => [k, files[k]!]),
  );
  return { files: sorted, modules: terraform.modules, warnings };
}
