/**
 * The `dns` root: Route 53 ordered failover over every tier, in a state of its own. Its
 * inputs are each tier's public name: with the in-cluster front door, that cluster's front
 * door (Azure's DNS label is known at render time; other load balancers exist once
 * `mcml deploy` has created the Services: variables lb_host_*); without it, the target's
 * `endpoint` or its service's load balancer. Keeping it apart means the cloud roots never
 * wait for, nor are applied twice for, a load balancer name.
 */
import type { RenderContext } from './context.js';
import { failoverTiers, recordName, tierEntry, wantsRoute53 } from './dns.js';
import { wantsFrontDoor } from './front-door.js';
import { attr, block, comment, expr, type Block, type HclValue } from './hcl.js';
import { attributionTags, variable, type RootParts } from './terraform-root.js';

/** The dns root, or undefined when the spec does not ask for Route 53 failover. */
export function renderDnsRoot(ctx: RenderContext): RootParts | undefined {
  if (!wantsRoute53(ctx)) return undefined;
  const dns = ctx.spec.failover.dns!;
  const tiers = failoverTiers(ctx);
  const idOf = (target: string) => ctx.targets.find((x) => x.placement.target === target)!;
  const variables: Block[] = [];
  const tfvars: string[] = [];
  const entry = tierEntry(ctx);
  for (const tier of tiers) {
    if (tier.host !== undefined) continue;
    const t = idOf(tier.target);
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
  const main: Block[] = [block('locals', [], [attr('tags', attributionTags(ctx, 'aws'))])];
  let zoneId: HclValue;
  if (dns.hostedZoneId !== undefined) zoneId = dns.hostedZoneId;
  else {
    main.push(
      block('data', ['aws_route53_zone', 'this'], [attr('name', dns.zone.replace(/\.$/, ''))]),
    );
    zoneId = expr('data.aws_route53_zone.this.zone_id');
  }
  main.push(
    block(
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
        attr('ttl', dns.ttl),
        attr(
          'tiers',
          tiers.map((tier) => ({
            name: tier.target,
            host: tier.host ?? expr(`var.lb_host_${idOf(tier.target).id}`),
            protocol: tier.protocol,
            port: tier.port,
            path: tier.path,
          })),
        ),
        attr('tags', expr('local.tags')),
      ],
    ),
  );
  const firstAws = ctx.targets.find((t) => t.cloud === 'aws');
  return {
    name: 'dns',
    providers: ['aws'],
    providerBlocks: [
      block(
        'provider',
        ['aws'],
        [
          comment('Route 53 is global; the region only picks the API endpoint.'),
          attr('region', firstAws?.placement.region ?? 'us-east-1'),
          block('default_tags', [], [attr('tags', expr('local.tags'))]),
        ],
      ),
    ],
    variables,
    main,
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
