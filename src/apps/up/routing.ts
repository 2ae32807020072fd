/**
 * Traffic into the local targets: a service endpoint per target (balancing over its ready
 * replicas, as a Kubernetes Service does) and the failover controller over those endpoints,
 * whose front door serves on the public port after the dashboard has had a look at each request.
 */
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { LocalCluster } from '../../adapters/local/local-cluster.js';
import { planFailover } from '../../core/failover/index.js';
import type { Spec } from '../../core/spec/index.js';
import { startFailover, type RunningFailover } from '../../engines/failover/index.js';
import { failoverEventView } from './event-views.js';
import type { PublicPort } from './public-port.js';
import { TargetService } from './target-service.js';
import { TrafficStats } from './traffic-stats.js';
import type { UpContext } from './up-context.js';

/** A service endpoint per local target, each stopped with the run. */
export async function startTargetServices(
  ctx: UpContext,
  driver: LocalCluster,
): Promise<Map<string, TargetService>> {
  const services = new Map<string, TargetService>();
  for (const p of ctx.locals) {
    const service = new TargetService({
      target: p.target,
      endpoints: () => driver.readyUrls(p.target),
      clock: ctx.clock,
      maxBodyBytes: ctx.spec.failover.frontDoor.maxBodyBytes,
      quietPaths: ['/v2/health', '/health', '/metrics'],
    });
    await service.listen();
    ctx.cleanups.push(() => service.close());
    services.set(p.target, service);
  }
  return services;
}

/** A request handler mounted on the public port ahead of the front door. */
export type Mounted = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The failover controller over the targets' endpoints, its front door on the public port; the
 * returned `mount` puts the dashboard in front of it.
 */
export async function startRouting(
  ctx: UpContext,
  services: Map<string, TargetService>,
  port: PublicPort,
): Promise<{ failover: RunningFailover; traffic: TrafficStats; mount: (m: Mounted) => void }> {
  const { spec, plan, clock, timeline } = ctx;
  const traffic = new TrafficStats();
  let mounted: Mounted | undefined;
  await mkdir(ctx.options.stateDir, { recursive: true });
  const routed: Spec = {
    ...spec,
    targets: spec.targets.map((t) => {
      const service = services.get(t.name);
      return service ? { ...t, endpoint: service.url } : t;
    }),
  };
  const jurisdictions = new Map(plan.placements.map((p) => [p.target, p.jurisdiction]));
  const byRegion = new Map(plan.placements.map((p) => [`${p.provider}/${p.region}`, p.target]));
  const failoverPlan = planFailover(routed, (t) =>
    jurisdictions.get(byRegion.get(`${t.provider}/${t.region}`) ?? ''),
  );
  const failover = await startFailover({
    spec: routed,
    plan: failoverPlan,
    clock,
    adminToken: ctx.options.adminToken,
    server: port.server,
    intercept: (req, res) => {
      if (port.answerWhileStarting(req, res)) return true;
      if (mounted?.(req, res)) return true;
      const started = performance.now();
      res.once('finish', () => {
        traffic.record(clock.now(), performance.now() - started, res.statusCode >= 500);
      });
      return false;
    },
    eventsFile: join(ctx.options.stateDir, 'events.jsonl'),
  });
  ctx.cleanups.push(() => failover.close());
  for (const entry of failover.events.tail(200)) {
    const view = failoverEventView(entry);
    if (view) timeline.add(view);
  }
  failover.events.on('event', (entry) => {
    const view = failoverEventView(entry);
    if (view) timeline.add(view);
  });
  return {
    failover,
    traffic,
    mount: (m) => {
      mounted = m;
    },
  };
}
