/**
 * Route 53 failover records for any number of tiers, as a change batch (JSON for
 * `aws route53 change-resource-record-sets`) — the same record sets the
 * `route53-failover` Terraform module creates:
 *
 *   level 0 = the record:          PRIMARY tier 1, SECONDARY alias → level 1
 *   level k = tier<k+1>.<record>:  PRIMARY tier k+1, SECONDARY alias → level k+1
 *   deepest level (n-2):           PRIMARY tier n-1, SECONDARY tier n (plain)
 */
import type { RenderContext, RenderTarget } from './context.js';
import { EDGE, wantsEdge } from './edge.js';
import { FRONT_DOOR, frontDoorDnsLabel, wantsFrontDoor } from './front-door.js';
import { fit } from './names.js';

/** One tier of the failover chain. */
export interface FailoverTier {
  target: string;
  /**
   * DNS name traffic goes to: the cluster's front door (front-door and both modes) or, without
   * one, the target's endpoint host; undefined while it is a load balancer name that exists
   * only after `mcml deploy`.
   */
  host: string | undefined;
  protocol: 'HTTP' | 'HTTPS';
  port: number;
  path: string;
}

/** Azure's stable DNS name for a Service with `azure-dns-label-name`: label.region.cloudapp.azure.com. */
export function azureDnsLabel(service: string, target: string): string {
  return fit(`${service}-${target}`, 63);
}

function endpointParts(t: RenderTarget, service: string): Omit<FailoverTier, 'target' | 'path'> {
  const endpoint = t.placement.endpoint ?? t.target.endpoint;
  if (endpoint !== undefined) {
    const url = new URL(endpoint);
    const protocol = url.protocol === 'http:' ? 'HTTP' : 'HTTPS';
    const port = url.port === '' ? (protocol === 'HTTP' ? 80 : 443) : Number(url.port);
    return { host: url.hostname, protocol, port };
  }
  if (t.cloud === 'azure') {
    const label = azureDnsLabel(service, t.placement.target);
    return {
      host: `${label}.${t.placement.region}.cloudapp.azure.com`,
      protocol: 'HTTP',
      port: 80,
    };
  }
  // The load balancer's name is known only once the Service exists.
  return { host: undefined, protocol: 'HTTP', port: 80 };
}

/**
 * Where a cluster's front door answers from outside: its LoadBalancer Service on port 80 (an
 * Azure DNS label, known now; elsewhere a name known after `mcml deploy`), or, with TLS at the
 * edge, the Gateway's HTTPS listener (its address also known after the deploy).
 */
function frontDoorParts(
  ctx: RenderContext,
  t: RenderTarget,
): Omit<FailoverTier, 'target' | 'path'> {
  if (wantsEdge(ctx)) return { host: undefined, protocol: 'HTTPS', port: 443 };
  if (t.cloud === 'azure') {
    const label = frontDoorDnsLabel(ctx.spec.service.name, t.placement.target);
    return {
      host: `${label}.${t.placement.region}.cloudapp.azure.com`,
      protocol: 'HTTP',
      port: 80,
    };
  }
  return { host: undefined, protocol: 'HTTP', port: 80 };
}

/**
 * The failover tiers, in order, for every cloud target. With the in-cluster front door
 * (front-door and both modes) each tier is that cluster's front door, checked on the health
 * path it proxies: it stays healthy while any tier can serve (its own target first, then the
 * next tiers), so the records move on only when a cluster's front door itself is gone.
 * Without it (dns mode) each tier is the target's service.
 */
export function failoverTiers(ctx: RenderContext): FailoverTier[] {
  const path = ctx.spec.failover.check.path ?? ctx.spec.service.healthPath;
  const frontDoor = wantsFrontDoor(ctx);
  return ctx.targets.map((t) => ({
    target: t.placement.target,
    ...(frontDoor ? frontDoorParts(ctx, t) : endpointParts(t, ctx.spec.service.name)),
    path,
  }));
}

/** What a tier's load balancer variable names: the front door's Service or Gateway, or the service's. */
export function tierEntry(ctx: RenderContext): { kind: string; command: string } {
  const ns = ctx.namespace;
  if (wantsFrontDoor(ctx) && wantsEdge(ctx)) {
    return {
      kind: 'the edge Gateway (in front of the front door)',
      command: `-n ${ns} get gateway ${EDGE.gateway} -o jsonpath='{.status.addresses[0].value}'`,
    };
  }
  const name = wantsFrontDoor(ctx) ? FRONT_DOOR.name : ctx.spec.service.name;
  return {
    kind: wantsFrontDoor(ctx) ? "the front door's load balancer" : "the service's load balancer",
    command: `-n ${ns} get service ${name} -o jsonpath='{.status.loadBalancer.ingress[0].hostname}{.status.loadBalancer.ingress[0].ip}'`,
  };
}

/** Whether render writes Route 53 records: the spec asks for Route 53 DNS failover. */
export function wantsRoute53(ctx: RenderContext): boolean {
  return ctx.spec.failover.dns?.provider === 'route53' && ctx.targets.length > 0;
}

/** Record name without a trailing dot. */
export function recordName(ctx: RenderContext): string {
  return (ctx.spec.failover.dns?.record ?? '').replace(/\.$/, '');
}

/** The name of failover level k (0 = the record itself). */
export function levelName(record: string, k: number): string {
  return k === 0 ? record : `tier${k + 1}.${record}`;
}

interface ResourceRecordSet {
  Name: string;
  Type: 'CNAME' | 'A';
  SetIdentifier?: string;
  Failover?: 'PRIMARY' | 'SECONDARY';
  TTL?: number;
  ResourceRecords?: { Value: string }[];
  HealthCheckId?: string;
  AliasTarget?: { HostedZoneId: string; DNSName: string; EvaluateTargetHealth: boolean };
}

const IPV4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;

/** True for an IPv4 address, which needs an A record before a CNAME can point at it. */
export function isIpv4(host: string): boolean {
  return IPV4.test(host);
}

/** The name the chain's CNAMEs use for a tier: its host, or `<target>.lb.<record>` for an IP. */
export function tierHostName(record: string, target: string, host: string): string {
  return isIpv4(host) ? `${target}.lb.${record}` : host;
}

/** A Route 53 health check request for one tier (CreateHealthCheck). */
export interface HealthCheckRequest {
  target: string;
  CallerReference: string;
  HealthCheckConfig: {
    Type: 'HTTP' | 'HTTPS';
    FullyQualifiedDomainName?: string;
    IPAddress?: string;
    Port: number;
    ResourcePath: string;
    RequestInterval: 10 | 30;
    FailureThreshold: number;
    MeasureLatency: boolean;
  };
}

/** Health check requests: fast (10 s) checks, 3 failures, as in the Terraform module. */
export function healthCheckRequests(
  service: string,
  tiers: readonly FailoverTier[],
): HealthCheckRequest[] {
  return tiers.map((t) => ({
    target: t.target,
    CallerReference: `mcml-${service}-${t.target}-${fit(`${t.host ?? ''}${t.path}`, 20)}`,
    HealthCheckConfig: {
      Type: t.protocol,
      ...(t.host !== undefined && isIpv4(t.host)
        ? { IPAddress: t.host }
        : { FullyQualifiedDomainName: t.host ?? '' }),
      Port: t.port,
      ResourcePath: t.path,
      RequestInterval: 10,
      FailureThreshold: 3,
      MeasureLatency: true,
    },
  }));
}

/**
 * The change batch for the chain. `healthCheckIds` maps target → Route 53 health check ID
 * (from CreateHealthCheck); `hostedZoneId` is the zone the nested aliases point into.
 */
export function route53ChangeBatch(input: {
  record: string;
  ttl: number;
  hostedZoneId: string;
  tiers: readonly { target: string; host: string }[];
  healthCheckIds: Readonly<Record<string, string>>;
  action?: 'UPSERT' | 'CREATE';
  comment?: string;
}): { Comment?: string; Changes: { Action: string; ResourceRecordSet: ResourceRecordSet }[] } {
  const { record, ttl, tiers, healthCheckIds, hostedZoneId } = input;
  const action = input.action ?? 'UPSERT';
  const sets: ResourceRecordSet[] = [];
  const n = tiers.length;
  const hc = (target: string) => healthCheckIds[target] ?? '';
  const hostOf = (t: { target: string; host: string }) => tierHostName(record, t.target, t.host);
  for (const t of tiers) {
    if (isIpv4(t.host)) {
      sets.push({ Name: hostOf(t), Type: 'A', TTL: ttl, ResourceRecords: [{ Value: t.host }] });
    }
  }
  if (n === 1) {
    sets.push({
      Name: record,
      Type: 'CNAME',
      TTL: ttl,
      ResourceRecords: [{ Value: hostOf(tiers[0]!) }],
    });
  }
  for (let k = 0; k < n - 1; k++) {
    const tier = tiers[k]!;
    sets.push({
      Name: levelName(record, k),
      Type: 'CNAME',
      SetIdentifier: tier.target,
      Failover: 'PRIMARY',
      TTL: ttl,
      ResourceRecords: [{ Value: hostOf(tier) }],
      HealthCheckId: hc(tier.target),
    });
    if (k === n - 2) {
      const last = tiers[n - 1]!;
      sets.push({
        Name: levelName(record, k),
        Type: 'CNAME',
        SetIdentifier: last.target,
        Failover: 'SECONDARY',
        TTL: ttl,
        ResourceRecords: [{ Value: hostOf(last) }],
        HealthCheckId: hc(last.target),
      });
    } else {
      sets.push({
        Name: levelName(record, k),
        Type: 'CNAME',
        SetIdentifier: `${tiers[k + 1]!.target}-and-below`,
        Failover: 'SECONDARY',
        AliasTarget: {
          HostedZoneId: hostedZoneId,
          DNSName: levelName(record, k + 1),
          EvaluateTargetHealth: true,
        },
      });
    }
  }
  // Deepest level first, so every alias target exists before the alias that points at it.
  // The lb A records (depth 99) go before everything.
  const depth = (s: ResourceRecordSet) =>
    s.Type === 'A' ? 99 : s.Name === record ? 0 : Number(/^tier(\d+)\./.exec(s.Name)?.[1] ?? 0);
  const ordered = [...sets].sort((a, b) => depth(b) - depth(a));
  return {
    ...(input.comment === undefined ? {} : { Comment: input.comment }),
    Changes: ordered.map((s) => ({ Action: action, ResourceRecordSet: s })),
  };
}
