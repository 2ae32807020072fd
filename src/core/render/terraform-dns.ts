/**
 * The `dns` root: Route 53 ordered failover over every tier, in a state of its own. Its
 * inputs are each tier's public name: with the in-cluster front door, that cluster's front
 * door (Azure's DNS label is known at render time; other load balancers exist once
 * `mcml deploy` has created the Services: variables lb_host_*); without it, the target's
 * `endpoint` or its service's load balancer. Keeping it apart means the cloud roots never
 * wait for, nor are applied twice for, a load balancer name.
 */
import type { RenderContext, RenderTarget } from './context.js';
import { failoverTiers, recordName, tierEntry, wantsRoute53, type FailoverTier } from './dns.js';
import { wantsFrontDoor } from './front-door.js';
import { attr, block, comment, expr, type Block, type HclValue } from './hcl.js';
import { attributionTags, variable, type RootParts } from './terraform-root.js';

/** The dns root, or undefined when the spec does not ask for Route 53 failover. */
export function renderDnsRoot(ctx: RenderContext): RootParts | undefined {
  if (!wantsRoute53(ctx)) return undefined;
  const tiers = failoverTiers(ctx);
  const { variables, tfvars } = loadBalancerInputs(ctx, tiers);
  const zone = hostedZone(ctx);
  return {
    name: 'dns',
    providers: ['aws'],
    providerBlocks: [route53Provider(ctx)],
    variables,
    main: [
      block('locals', [], [attr('tags', attributionTags(ctx, 'aws'))]),
      ...zone.lookup,
      failoverModule(ctx, tiers, zone.id),
    ],
    outputs: [
      block(
        'output',
        ['record_name'],
        [
          attr('description', 'The failover record clients use.'),
          attr('value', expr('module.dns_failover.record_name')),
        ],
      ),
      block(
        'output',
        ['health_check_ids'],
        [
          attr('description', 'Route 53 health check ID per target.'),
          attr('value', expr('module.dns_failover.health_check_ids')),
        ],
      ),
    ],
    tfvars,
  };
}

/** The render target behind a tier. */
function tierTarget(ctx: RenderContext, target: string): RenderTarget {
  return ctx.targets.find((x) => x.placement.target === target)!;
}

/**
 * A variable `lb_host_<id>` (and its line in terraform.tfvars) for every tier whose public
 * name exists only once `mcml deploy` has created its load balancer.
 */
function loadBalancerInputs(
  ctx: RenderContext,
  tiers: readonly FailoverTier[],
): { variables: Block[]; tfvars: string[] } {
  const variables: Block[] = [];
  const tfvars: string[] = [];
  const entry = tierEntry(ctx);
  for (const tier of tiers) {
    if (tier.host !== undefined) continue;
    const t = tierTarget(ctx, tier.target);
    const context = t.placement.context ?? t.placement.target;
    variables.push(
      variable(
        `lb_host_${t.id}`,
        `DNS name or IPv4 address of ${entry.kind} in ${tier.target}'s cluster, after "mcml deploy": kubectl --context ${context} ${entry.command}` +
          (wantsFrontDoor(ctx) ? '.' : ' (or set targets[].endpoint in mcml.yaml).'),
        'string',
      ),
    );
    tfvars.push(`lb_host_${t.id} = "<DNS name or IPv4 of ${entry.kind} in ${tier.target}>"`);
  }
  return { variables, tfvars };
}

/** The hosted zone's ID: the spec's, or looked up by the zone's name. */
function hostedZone(ctx: RenderContext): { id: HclValue; lookup: Block[] } {
  const dns = ctx.spec.failover.dns!;
  if (dns.hostedZoneId !== undefined) return { id: dns.hostedZoneId, lookup: [] };
  return {
    id: expr('data.aws_route53_zone.this.zone_id'),
    lookup: [
      block('data', ['aws_route53_zone', 'this'], [attr('name', dns.zone.replace(/\.$/, ''))]),
    ],
  };
}

/** The route53-failover module over the tiers, in order. */
function failoverModule(
  ctx: RenderContext,
  tiers: readonly FailoverTier[],
  zoneId: HclValue,
): Block {
  return block(
    'module',
    ['dns_failover'],
    [
      comment(
        wantsFrontDoor(ctx)
          ? "Ordered failover over the clusters' front doors: tier 1's, then tier 2's, … (see the module)."
          : 'Ordered failover: tier 1, then tier 2, then tier 3, … (see the module).',
      ),
      attr('source', '../modules/route53-failover'),
      attr('zone_id', zoneId),
      attr('record_name', recordName(ctx)),
      attr('ttl', ctx.spec.failover.dns!.ttl),
      attr(
        'tiers',
        tiers.map((tier) => ({
          name: tier.target,
          host: tier.host ?? expr(`var.lb_host_${tierTarget(ctx, tier.target).id}`),
          protocol: tier.protocol,
          port: tier.port,
          path: tier.path,
        })),
      ),
      attr('tags', expr('local.tags')),
    ],
  );
}

/** The AWS provider for Route 53, in the first AWS target's region. */
function route53Provider(ctx: RenderContext): Block {
  const firstAws = ctx.targets.find((t) => t.cloud === 'aws');
  return block(
    'provider',
    ['aws'],
    [
      comment('Route 53 is global; the region only picks the API endpoint.'),
      attr('region', firstAws?.placement.region ?? 'us-east-1'),
      block('default_tags', [], [attr('tags', expr('local.tags'))]),
    ],
  );
}
