/**
 * TLS at the edge (`service.tls`): in every cluster a cert-manager Certificate, a Gateway API
 * Gateway that terminates TLS with it, and HTTPRoutes: the client-facing names go to the
 * cluster's front door (or the service without one), the target's own https endpoint name to
 * its service (for the other clusters' front doors and health checks), the health path by
 * address (no hostname) to the front door for the DNS failover records' health checks, and
 * plain HTTP redirects to HTTPS. The Services then stay inside the cluster (ClusterIP).
 */
import type { RenderContext, RenderTarget } from './context.js';
import { FRONT_DOOR, wantsFrontDoor } from './front-door.js';

type Obj = Record<string, unknown>;

/** Names of the edge objects (one set per cluster, in the service namespace). */
export const EDGE = {
  gateway: 'mcml-edge',
  certificate: 'mcml-edge',
  secret: 'mcml-edge-tls',
  route: 'mcml-edge',
  directRoute: 'mcml-edge-direct',
  redirectRoute: 'mcml-edge-redirect',
  healthRoute: 'mcml-edge-health',
} as const;

/** Whether the spec asks for TLS at the edge. */
export function wantsEdge(ctx: RenderContext): boolean {
  return ctx.spec.service.tls !== undefined;
}

/** The host of a target's https endpoint, which its own Gateway must answer. */
function ownHost(t: RenderTarget): string | undefined {
  const endpoint = t.placement.endpoint ?? t.target.endpoint;
  if (endpoint === undefined) return undefined;
  const url = new URL(endpoint);
  return url.protocol === 'https:' ? url.hostname : undefined;
}

/** The path DNS health checks probe (the failover check path, else the service's health path). */
function healthPath(ctx: RenderContext): string {
  return ctx.spec.failover.check.path ?? ctx.spec.service.healthPath;
}

/** The Gateway, Certificate and HTTPRoutes of one cluster. */
export function edgeObjects(ctx: RenderContext, t: RenderTarget): Obj[] {
  const tls = ctx.spec.service.tls!;
  const own = ownHost(t);
  const hosts = [...tls.hosts];
  const direct = own !== undefined && !hosts.includes(own) ? own : undefined;
  const allHosts = direct === undefined ? hosts : [...hosts, direct];
  const entry = wantsFrontDoor(ctx) ? FRONT_DOOR.name : ctx.spec.service.name;
  return [
    certificate(ctx, allHosts),
    gateway(ctx, t),
    route(EDGE.route, hosts, 'https', to(entry)),
    ...(direct === undefined
      ? []
      : [route(EDGE.directRoute, [direct], 'https', to(ctx.spec.service.name))]),
    // DNS health checks reach the Gateway by its address (Host: the load balancer's name,
    // matched by no hostname above): the health path goes to the front door too. A route with
    // hostnames takes precedence over this one for its hosts.
    ...(wantsFrontDoor(ctx)
      ? [
          route(EDGE.healthRoute, [], 'https', {
            matches: [{ path: { type: 'Exact', value: healthPath(ctx) } }],
            ...to(entry),
          }),
        ]
      : []),
    route(EDGE.redirectRoute, allHosts, 'http', {
      filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }],
    }),
  ];
}

/** cert-manager's certificate for every host the Gateway answers. */
function certificate(ctx: RenderContext, hosts: string[]): Obj {
  const tls = ctx.spec.service.tls!;
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: EDGE.certificate },
    spec: {
      secretName: EDGE.secret,
      dnsNames: hosts,
      issuerRef: { name: tls.issuer, kind: tls.issuerKind, group: 'cert-manager.io' },
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  };
}

/** The cloud's Gateway: HTTPS terminated with the certificate, HTTP only to redirect. */
function gateway(ctx: RenderContext, t: RenderTarget): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: EDGE.gateway },
    spec: {
      gatewayClassName: ctx.spec.service.tls!.gatewayClassName[t.cloud],
      listeners: [
        {
          name: 'https',
          protocol: 'HTTPS',
          port: 443,
          tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', name: EDGE.secret }] },
          allowedRoutes: { namespaces: { from: 'Same' } },
        },
        {
          name: 'http',
          protocol: 'HTTP',
          port: 80,
          allowedRoutes: { namespaces: { from: 'Same' } },
        },
      ],
    },
  };
}

/** An HTTPRoute on one of the Gateway's listeners, for these hostnames (none: any). */
function route(name: string, names: string[], section: string, rule: Obj): Obj {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name },
    spec: {
      parentRefs: [{ name: EDGE.gateway, sectionName: section }],
      ...(names.length > 0 ? { hostnames: names } : {}),
      rules: [rule],
    },
  };
}

/** A rule's backend: the Service's port 80. */
function to(service: string): Obj {
  return { backendRefs: [{ name: service, port: 80 }] };
}
